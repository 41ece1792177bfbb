package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// node is one in-process raftvip: a cluster node on Raft's in-memory
// transport, a real reconciler on a fake kernel, and the HTTP API.
type node struct {
	id    string
	node  *cluster.Node
	trans *raft.InmemTransport
	addr  raft.ServerAddress
	fake  *netopstest.Fake
	http  *httptest.Server
}

var vip = fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24"), Interface: "eth0"}

// TestPartitionedLeaderDropsFirst runs three nodes whose fake kernels share one
// ledger of who holds the VIP, cuts the leader off from its peers, and checks
// what a user would see: the VIP moves to another node, /v1/leader follows it,
// and at no moment did two nodes hold the VIP (the ledger fails the test the
// instant a second node binds an address another still holds).
func TestPartitionedLeaderDropsFirst(t *testing.T) {
	lan := netopstest.NewLAN(t)
	log := slog.New(slog.DiscardHandler)
	nodes := make([]*node, 3)
	for i, id := range []string{"n1", "n2", "n3"} {
		nodes[i] = startNode(t, id, lan, log)
	}
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
	if err := nodes[0].node.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIP", func() bool { return slices.Equal(lan.Holders(vip.Prefix.Addr()), []string{"n1"}) })
	ctx := t.Context()
	for _, n := range nodes[1:] {
		if err := nodes[0].node.Join(ctx, n.id, string(n.addr), n.http.Listener.Addr().String()); err != nil {
			t.Fatalf("join %s: %v", n.id, err)
		}
	}
	testutil.Eventually(t, testutil.WaitLimit, "/v1/leader 200 on n1 only", func() bool { return leaderCodes(t, nodes) == "200,503,503" })

	// Cut n1 off from its peers, both ways.
	nodes[0].trans.DisconnectAll()
	for _, n := range nodes[1:] {
		n.trans.Disconnect(nodes[0].addr)
	}
	var newHolder string
	testutil.Eventually(t, testutil.WaitLimit, "another node to hold the VIP", func() bool {
		h := lan.Holders(vip.Prefix.Addr())
		if len(h) == 1 && h[0] != "n1" {
			newHolder = h[0]
			return true
		}
		return false
	})
	if bound := nodes[0].fake.Bound(); len(bound) != 0 {
		t.Fatalf("the partitioned old leader still has %v bound", bound)
	}
	testutil.Eventually(t, testutil.WaitLimit, "/v1/leader 200 on the new holder only", func() bool {
		codes := leaderCodes(t, nodes)
		return codes == "503,200,503" && newHolder == "n2" || codes == "503,503,200" && newHolder == "n3"
	})

	// Heal: n1 rejoins as follower and the VIP stays where it is.
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to follow again", func() bool {
		st := nodes[0].node.Status()
		return st.State == "Follower" && st.LeaderID != "" && st.LeaderID != "n1"
	})
	if h := lan.Holders(vip.Prefix.Addr()); len(h) != 1 {
		t.Fatalf("after heal the VIP is held by %v, want exactly one node", h)
	}
}

func startNode(t *testing.T, id string, lan *netopstest.LAN, log *slog.Logger) *node {
	t.Helper()
	addr, trans := raft.NewInmemTransport("")
	n := &node{id: id, trans: trans, addr: addr, fake: lan.Fake(id)}
	n.fake.AddLink("eth0")
	rec, err := netops.NewReconciler(netops.Config{
		Node: id, Binder: n.fake, Announcer: n.fake, Lease: time.Second, Logger: log,
		View: func() netops.View {
			st, leader, term := n.node.View()
			return netops.View{State: st, Leader: leader, Term: term}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.node, err = cluster.Open(cluster.Config{
		ID: id, Timing: cluster.Timing{Heartbeat: 50 * time.Millisecond, Election: 50 * time.Millisecond, LeaderLease: 25 * time.Millisecond},
		SeedVIPs: []fsm.VIP{vip}, Logger: log.With("node", id), OnChange: rec.Poke, Transport: trans, InMemory: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.NewServer(api.ServerConfig{Cluster: n.node, Token: []byte("token"), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	n.http = httptest.NewServer(srv.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	runDone, recDone := make(chan struct{}), make(chan struct{})
	go func() { defer close(runDone); _ = n.node.Run(ctx) }()
	go func() { defer close(recDone); _ = rec.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-recDone
		_ = n.node.Shutdown(context.Background())
		<-runDone
		n.http.Close()
	})
	return n
}

// leaderCodes returns the /v1/leader status codes of the nodes, joined.
func leaderCodes(t *testing.T, nodes []*node) string {
	t.Helper()
	codes := make([]string, 0, len(nodes))
	for _, n := range nodes {
		resp, err := http.Get(n.http.URL + "/v1/leader")
		if err != nil {
			t.Fatal(err)
		}
		var body api.LeaderInfo
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &body); err != nil || body.Node != n.id {
			t.Fatalf("/v1/leader on %s: %v, body %s", n.id, err, b)
		}
		codes = append(codes, strconv.Itoa(resp.StatusCode))
	}
	return strings.Join(codes, ",")
}

// TestSubmissionRules: a command this release's rules refuse is refused where
// it is submitted, through the API and through the cluster node, with an
// error naming the field; nothing reaches the log. (Replicas still apply such
// an entry when another release wrote it: fsm's TestOtherRulesStillApply.)
func TestSubmissionRules(t *testing.T) {
	n := startNode(t, "n1", netopstest.NewLAN(t), slog.New(slog.DiscardHandler))
	if err := n.node.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	// The seed is the last write a new leader makes (after its claim), so the
	// log's end is still from here on, unless a refused command gets in.
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the seeded VIP", func() bool { st := n.node.Status(); return st.Holder && len(st.VIPs) == 1 })
	before := n.node.Status().LastIndex
	ctx := t.Context()

	client := api.NewClient(n.http.Listener.Addr().String(), "token", nil)
	network := fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.0/24")}
	var apiErr *api.Error
	if err := client.AddVIP(ctx, network); !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest ||
		!strings.Contains(err.Error(), "prefix 192.0.2.0/24") {
		t.Errorf("POST /v1/vips of a network address = %v, want a 400 naming the prefix", err)
	}
	err := client.ReportHealth(ctx, api.HealthReport{ID: "n1", Healthy: true, Priority: 300})
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "priority 300") {
		t.Errorf("POST /v1/health with priority 300 = %v, want a 400 naming the priority", err)
	}

	for _, c := range []struct {
		cmd   fsm.Command
		want  error
		field string
	}{
		{fsm.AddVIP(network), fsm.ErrInvalidVIP, "prefix"},
		{fsm.AddVIP(fsm.VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64"), Label: "web"}), fsm.ErrInvalidVIP, "label"},
		{fsm.SetHealth("n1", true, "", 0), fsm.ErrInvalidHealth, "priority"},
		{fsm.SetHealth("n1", false, strings.Repeat("x", fsm.MaxFault+1), 100), fsm.ErrInvalidHealth, "fault"},
	} {
		if err := n.node.Apply(ctx, c.cmd); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("Apply(%s) = %v, want %v naming %s", c.cmd.Type, err, c.want, c.field)
		}
	}
	if after := n.node.Status(); after.LastIndex != before || len(after.VIPs) != 1 {
		t.Errorf("refused commands reached the log: last index %d -> %d, VIPs %v", before, after.LastIndex, after.VIPs)
	}
}
