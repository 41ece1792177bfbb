package metrics

import (
	"io"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
)

func scrape(t *testing.T, src Sources) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestLeaderMetrics(t *testing.T) {
	out := scrape(t, Sources{
		Status: func() cluster.Status {
			return cluster.Status{State: "Leader", Holder: true, Term: 7, Priority: 150,
				Members: []cluster.Member{{Suffrage: "voter"}, {Suffrage: "voter"}, {Suffrage: "nonvoter"}},
				VIPs:    []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24")}},
				Owner:   fsm.Owner{Node: "n1", Term: 7, Takeover: 312}, AppliedIndex: 40, CommitIndex: 41}
		},
		Cluster: func() cluster.Stats {
			return cluster.Stats{LeaderChanges: 3, VIPMoves: 2, Commits: 10, CommitTime: 50 * time.Millisecond}
		},
		Reconciler: func() netops.Stats { return netops.Stats{ARP: 6, NA: 3, Failed: 1, InUse: 2} },
		Conflicts: func() []netops.Conflict {
			vip := func(p string) fsm.VIP { return fsm.VIP{Prefix: netip.MustParsePrefix(p)} }
			return []netops.Conflict{
				{VIP: vip("192.0.2.11/24"), At: netops.Binding{Link: "eth0", Prefix: netip.MustParsePrefix("192.0.2.11/24")}},
				{VIP: vip("192.0.2.50/24"), At: netops.Binding{Link: "eth0"}, MAC: "02:00:00:00:00:09"},
				{VIP: vip("192.0.2.100/24"), At: netops.Binding{Link: "eth0"}, MAC: "02:00:00:00:00:09", Held: true},
			}
		},
		Held: func() []netip.Prefix { return []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24")} },
		Checks: func() []Check {
			return []Check{{Name: "web", Healthy: true}, {Name: "db"}, {Name: "new", Pending: true}}
		},
		Healthy: func() bool { return false },
	})
	for _, want := range []string{
		"raftvip_leader 1", "raftvip_holder 1", "raftvip_raft_term 7", `raftvip_members{suffrage="voter"} 2`,
		`raftvip_members{suffrage="nonvoter"} 1`, "raftvip_vips 1", "raftvip_vips_bound 1",
		"raftvip_leader_changes_total 3", "raftvip_vip_moves_total 2", "raftvip_last_takeover_seconds 0.312",
		"raftvip_gratuitous_arp_sent_total 6", "raftvip_unsolicited_na_sent_total 3", "raftvip_announce_failures_total 1",
		"raftvip_raft_commit_seconds_sum 0.05", "raftvip_raft_commit_seconds_count 10",
		"raftvip_raft_applied_index 40", "raftvip_raft_commit_index 41", "raftvip_healthy 0",
		`raftvip_health_check_healthy{check="web"} 1`, `raftvip_health_check_healthy{check="db"} 0`,
		"raftvip_degraded 0", "raftvip_priority 150", "process_resident_memory_bytes", "go_goroutines",
		`raftvip_vip_address_in_use{vip="192.0.2.50/24"} 1`, `raftvip_vip_address_in_use{vip="192.0.2.100/24"} 1`,
		"raftvip_vip_address_in_use_total 2",
	} {
		if !strings.Contains(out, want+"\n") && !strings.Contains(out, want+" ") {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, absent := range []string{`check="new"`, "raftvip_raft_last_contact_seconds ", `vip="192.0.2.11/24"`} {
		if strings.Contains(out, absent) {
			t.Errorf("metrics have %q, want it left out", absent)
		}
	}
}

func TestFollowerMetricsAndMissingSources(t *testing.T) {
	out := scrape(t, Sources{Status: func() cluster.Status {
		return cluster.Status{State: "Follower", LastContact: time.Now().Add(-2 * time.Second), Degraded: ""}
	}})
	for _, want := range []string{"raftvip_leader 0", "raftvip_holder 0", "raftvip_raft_last_contact_seconds 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(out, "raftvip_gratuitous_arp_sent_total") {
		t.Error("reconciler metrics present without a reconciler source")
	}
}

// The leader shows each other member's reachability, and how long an
// unreachable one has been silent; conflicts and removal are counted.
func TestPeerAndConflictMetrics(t *testing.T) {
	yes, no := true, false
	out := scrape(t, Sources{
		Status: func() cluster.Status {
			return cluster.Status{ID: "n1", State: "Leader", Members: []cluster.Member{
				{ID: "n1", Reachable: &yes}, {ID: "n2", Reachable: &no, LastContact: time.Now().Add(-5 * time.Second)},
				{ID: "n3", Reachable: &yes}}}
		},
		Conflicts: func() []netops.Conflict { return []netops.Conflict{{}, {}} },
	})
	for _, want := range []string{`raftvip_peer_reachable{peer="n2"} 0`, `raftvip_peer_reachable{peer="n3"} 1`,
		`raftvip_peer_last_contact_seconds{peer="n2"} 5`, "raftvip_vip_conflicts 2", "raftvip_removed 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, absent := range []string{`peer="n1"`, `raftvip_peer_last_contact_seconds{peer="n3"}`} {
		if strings.Contains(out, absent) {
			t.Errorf("metrics have %q", absent)
		}
	}
	follower := scrape(t, Sources{Status: func() cluster.Status {
		return cluster.Status{ID: "n2", State: "Follower", Removed: true, Members: []cluster.Member{{ID: "n1"}}}
	}})
	if strings.Contains(follower, "raftvip_peer_reachable{") || !strings.Contains(follower, "raftvip_removed 1") {
		t.Errorf("a removed follower's metrics:\n%s", follower)
	}
}
