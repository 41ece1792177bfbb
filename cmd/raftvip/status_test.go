package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

func statusText(t *testing.T, st cluster.Status) string {
	t.Helper()
	var b strings.Builder
	if err := (printer{w: &b}).status(st); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// row returns the members table's line of id.
func row(t *testing.T, out, id string) string {
	t.Helper()
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, id+" ") {
			return line
		}
	}
	t.Fatalf("no row for %s in:\n%s", id, out)
	return ""
}

// A stopped member reported healthy before it stopped: the leader's status
// must say it is unreachable, not healthy; a follower cannot tell.
func TestStatusShowsReachability(t *testing.T) {
	yes, no := true, false
	healthy := fsm.Health{Reported: true, Healthy: true, Priority: 100}
	st := cluster.Status{ID: "n1", State: cluster.RoleLeader, LeaderID: "n1", Members: []cluster.Member{
		{ID: "n1", Suffrage: "voter", Leader: true, Health: healthy, Reachable: &yes},
		{ID: "n2", Suffrage: "voter", Health: healthy, Reachable: &no, LastContact: time.Now().Add(-3 * time.Second)},
		{ID: "n3", Suffrage: "voter", Health: healthy},
	}}
	out := statusText(t, st)
	if r := row(t, out, "n2"); !strings.Contains(r, "NO (last contact 3s ago)") || !strings.Contains(r, "unreachable") ||
		strings.Contains(r, "healthy") {
		t.Errorf("the stopped member's row: %q, want unreachable with its last contact and no health", r)
	}
	if r := row(t, out, "n1"); !strings.Contains(r, "yes") || !strings.Contains(r, "healthy") {
		t.Errorf("the leader's own row: %q", r)
	}
	if r := row(t, out, "n3"); !strings.Contains(r, "unknown") || !strings.Contains(r, "healthy") {
		t.Errorf("a member of unknown reachability: %q", r)
	}
}

func TestStatusShowsRemovedAndConflicts(t *testing.T) {
	out := statusText(t, cluster.Status{ID: "n3", State: cluster.RoleFollower, Removed: true,
		Members: []cluster.Member{{ID: "n1"}, {ID: "n2"}},
		Conflicts: []cluster.AddressConflict{{VIP: "192.0.2.101/24", Address: "192.0.2.101/24", Link: "eth0",
			Text: "192.0.2.101/24 not bound: eth0 already has 192.0.2.101/24, not added by raftvip"}}})
	for _, want := range []string{"removed from the cluster", "REMOVED",
		"CONFLICT  192.0.2.101/24 not bound: eth0 already has 192.0.2.101/24, not added by raftvip"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no quorum") {
		t.Errorf("a removed node's status blames the quorum:\n%s", out)
	}
}

// raftvip members shows the links each member reported under LINKS, "-" for
// one that reported none, and the first few of a host with many.
func TestMembersShowLinks(t *testing.T) {
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf("veth%02d", i))
	}
	var b strings.Builder
	err := (printer{w: &b}).members([]cluster.Member{
		{ID: "n1", Suffrage: "voter", Role: "voter", Links: []string{"eth0", "eth1", "lo"}},
		{ID: "n2", Suffrage: "voter", Role: "voter", Links: many},
		{ID: "n3", Suffrage: "voter", Role: "witness"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, " LINKS ") {
		t.Errorf("no LINKS column:\n%s", out)
	}
	// The columns are aligned: a row's cell starts where its header does.
	col := strings.Index(row(t, out, "ID"), " LINKS ") + 1
	cell := func(id string) string {
		f := strings.Fields(row(t, out, id)[col:])
		return f[0]
	}
	if got := cell("n1"); got != "eth0,eth1,lo" {
		t.Errorf("n1's links: %q, want eth0,eth1,lo", got)
	}
	if got, want := cell("n2"), "veth00,veth01,veth02,veth03,veth04,veth05,veth06,veth07,+12"; got != want {
		t.Errorf("the links of a host with 20: %q, want %q then \"more\"", got, want)
	}
	if got := cell("n3"); got != "-" {
		t.Errorf("a member that reported no links: %q, want -", got)
	}
}
