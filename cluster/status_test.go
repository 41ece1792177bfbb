package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/internal/testutil"
)

// TestRoleOf: /v1/status has always shown raft's own state names; the role
// type must keep them, byte for byte.
func TestRoleOf(t *testing.T) {
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown, raft.RaftState(42)} {
		b, err := json.Marshal(Status{State: RoleOf(s)})
		if err != nil {
			t.Fatal(err)
		}
		if want := `"state":"` + s.String() + `"`; !strings.Contains(string(b), want) {
			t.Errorf("status of a %s node = %s, want %s", s, b, want)
		}
	}
}

func memberByID(t *testing.T, st Status, id string) Member {
	t.Helper()
	for _, m := range st.Members {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("%s not among the members of %s's status", id, st.ID)
	return Member{}
}

// A member the leader cannot heartbeat shows as unreachable in the leader's
// status, with when it was last heard; followers say nothing (unknown).
func TestStatusShowsUnreachableMember(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.holder()
	down, other := c.otherTwo(leader)
	if r := memberByID(t, leader.Status(), down.id).Reachable; r == nil || !*r {
		t.Fatalf("before the fault, the leader shows %s reachable=%v, want true", down.id, r)
	}
	c.isolate(down)
	testutil.Eventually(t, testutil.WaitLimit, "the leader to show "+down.id+" unreachable", func() bool {
		r := memberByID(t, leader.Status(), down.id).Reachable
		return r != nil && !*r
	})
	m := memberByID(t, leader.Status(), down.id)
	if m.LastContact.IsZero() {
		t.Error("an unreachable member has no last contact")
	}
	if r := memberByID(t, leader.Status(), other.id).Reachable; r == nil || !*r {
		t.Errorf("the leader shows the live %s reachable=%v, want true", other.id, r)
	}
	if r := memberByID(t, other.Status(), down.id).Reachable; r != nil {
		t.Errorf("a follower shows reachable=%v, want unknown", *r)
	}
	c.heal(down)
	testutil.Eventually(t, testutil.WaitLimit, "the leader to show "+down.id+" reachable again", func() bool {
		r := memberByID(t, leader.Status(), down.id).Reachable
		return r != nil && *r
	})
}

// A node removed from the configuration while it runs says so, in its
// status and once in its log, rather than looking leaderless.
func TestRemovedNodeSaysSo(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.holder()
	var gone *testNode
	for _, n := range c.nodes {
		if n != leader {
			gone = n
			break
		}
	}
	waiting := c.start("n9", nil) // never joined: not removed
	if err := leader.Leave(context.Background(), gone.id); err != nil {
		t.Fatalf("leave %s: %v", gone.id, err)
	}
	testutil.Eventually(t, testutil.WaitLimit, gone.id+" to report itself removed", func() bool { return gone.Status().Removed })
	testutil.Eventually(t, testutil.WaitLimit, "the removal in the log", func() bool {
		return strings.Contains(c.logs.String(), "removed from the cluster")
	})
	time.Sleep(20 * testTiming().Heartbeat)
	if n := strings.Count(c.logs.String(), "removed from the cluster"); n != 1 {
		t.Errorf("removal logged %d times, want once", n)
	}
	if waiting.Status().Removed || leader.Status().Removed {
		t.Error("a node waiting to join, or the leader, reports itself removed")
	}
}

func TestRemovedFrom(t *testing.T) {
	for _, tt := range []struct {
		ids      []string
		recorded bool
		want     bool
	}{
		{nil, false, false},                       // waiting to be joined
		{[]string{"n1"}, false, false},            // joining, replaying the log up to its addition
		{[]string{"n1", "n2", "n3"}, true, false}, // a member
		{[]string{"n1", "n2"}, true, true},        // removed while it ran
	} {
		if got := removedFrom(tt.ids, "n3", tt.recorded); got != tt.want {
			t.Errorf("removedFrom(%v, n3, recorded=%v) = %v, want %v", tt.ids, tt.recorded, got, tt.want)
		}
	}
}

// Members' reported links are in every node's status, for raftvip members
// and /v1/members; a member that reported none (an older release, a
// witness) has none there.
func TestStatusShowsMemberLinks(t *testing.T) {
	t.Parallel()
	links := map[string][]string{"n1": {"lo", "eth0"}, "n2": {"eth0", "eth1", "lo"}}
	c := healthCluster(t, func(id string, cfg *Config) {
		if l, ok := links[id]; ok { // n3 reports none
			cfg.Links = func() []string { return l }
		}
	})
	want := map[string][]string{"n1": {"eth0", "lo"}, "n2": {"eth0", "eth1", "lo"}, "n3": nil}
	for _, n := range c.nodes {
		testutil.Eventually(t, testutil.WaitLimit, n.id+"'s status to show the reported links", func() bool {
			st := n.Status()
			for id, l := range want {
				if !slices.Equal(memberByID(t, st, id).Links, l) {
					return false
				}
			}
			return true
		})
	}
}
