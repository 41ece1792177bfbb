package cluster

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
)

func witnessMember(priority int) fsm.Member {
	m := reported(true, priority)
	m.Witness = true
	return m
}

func TestSuccessionNeverPicksAWitness(t *testing.T) {
	t.Parallel()
	healthy := Health{Known: true, Healthy: true}
	sick := Health{Known: true, Fault: "check web: exit status 1"}
	tests := []struct {
		name string
		in   successionInput
		want string // target, "" to keep, "degraded"
	}{
		{"unhealthy leader passes over a witness of higher priority", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n2": reported(true, 50), "n3": witnessMember(255)}}, "n2"},
		{"a healthy witness alone is no successor", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n2": reported(false, 50), "n3": witnessMember(255)}}, "degraded"},
		{"no preemption towards a witness", successionInput{health: healthy, priority: 100, preempt: true,
			members: map[string]fsm.Member{"n3": witnessMember(255)}}, ""},
		{"a witness leader hands to the best VIP-capable voter", successionInput{witness: true, health: healthy,
			members: map[string]fsm.Member{"n2": reported(true, 100), "n3": reported(true, 150)}}, "n3"},
		{"a witness leader hands over whatever its own health", successionInput{witness: true, health: sick,
			members: map[string]fsm.Member{"n2": reported(true, 100)}}, "n2"},
		{"a witness leader with unknown health hands over", successionInput{witness: true,
			members: map[string]fsm.Member{"n2": reported(true, 100)}}, "n2"},
		{"a witness leader never hands to another witness", successionInput{witness: true, health: healthy,
			members: map[string]fsm.Member{"n2": witnessMember(200), "n3": reported(false, 100)}}, "degraded"},
		{"a witness leader passes over unreachable voters", successionInput{witness: true, health: healthy,
			members:  map[string]fsm.Member{"n2": reported(true, 200), "n3": reported(true, 100)},
			excluded: map[string]bool{"n2": true}}, "n3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.self = "n1"
			tt.in.voters = []string{"n1", "n2", "n3"}
			d := succession(tt.in)
			got := d.Target
			if d.Degraded {
				got = "degraded"
			}
			if got != tt.want || d.Preempt {
				t.Fatalf("succession = %+v, want %q", d, tt.want)
			}
		})
	}
}

// witnessCluster is healthCluster with the given nodes witnesses.
func witnessCluster(t *testing.T, witnesses ...string) *testCluster {
	t.Helper()
	c := healthCluster(t, func(id string, cfg *Config) {
		for _, w := range witnesses {
			cfg.Witness = cfg.Witness || id == w
		}
	})
	c.waitReported(func(m map[string]fsm.Member) bool {
		for _, w := range witnesses {
			if !m[w].Witness {
				return false
			}
		}
		return true
	})
	return c
}

// ownerWatch samples every node's FSM owner until stopped and reports
// whether any ever named id.
func (c *testCluster) ownerWatch(id string) (stop func() bool) {
	var (
		mu   sync.Mutex
		seen bool
	)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			for _, n := range c.nodes {
				if n.fsm.Owner().Node == id {
					mu.Lock()
					seen = true
					mu.Unlock()
				}
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return func() bool {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

func TestTransferToAWitnessIsRefused(t *testing.T) {
	t.Parallel()
	c := witnessCluster(t, "n3")
	h := c.holder()
	_, err := h.Transfer(context.Background(), "n3")
	if !errors.Is(err, ErrWitness) || !strings.Contains(err.Error(), "n3") {
		t.Fatalf("transfer to the witness = %v, want ErrWitness naming n3", err)
	}
	if got := c.holder(); got != h {
		t.Fatalf("holder moved to %s after a refused transfer", got.id)
	}
}

// TestElectedWitnessHandsOverBeforeClaiming: raft makes the witness leader
// (as an election it wins would); it hands leadership to the VIP host before
// any claim, so it never owns or holds the VIPs.
func TestElectedWitnessHandsOverBeforeClaiming(t *testing.T) {
	t.Parallel()
	c := witnessCluster(t, "n3")
	w := c.node("n3")
	for range 3 {
		h := c.holder()
		rec := c.record()
		owned := c.ownerWatch("n3")
		// Around Node.Transfer, which refuses a witness: raft itself elects it.
		if err := h.raft.LeadershipTransferToServer("n3", w.addr).Error(); err != nil {
			t.Fatalf("raft transfer to the witness: %v", err)
		}
		testutil.Eventually(t, testutil.WaitLimit, "a VIP host to hold after the witness was elected", func() bool {
			hs := c.holders()
			return len(hs) == 1 && hs[0] != "n3" && w.raft.State() != raft.Leader
		})
		rows := rec.finish(t)
		if owned() {
			t.Fatal("the witness owned the VIPs")
		}
		for i, row := range rows {
			for _, id := range row {
				if id == "n3" {
					t.Fatalf("sample %d: the witness held the VIPs", i)
				}
			}
		}
	}
}

// TestWitnessLeadsHoldingNothing: with the only VIP host gone, a witness
// leads, claims nothing and says so; when the VIP host is back it hands over.
func TestWitnessLeadsHoldingNothing(t *testing.T) {
	t.Parallel()
	c := witnessCluster(t, "n2", "n3")
	n1 := c.node("n1")
	c.holder()
	owned := c.ownerWatch("n2")
	ownedBy3 := c.ownerWatch("n3")
	c.isolate(n1)
	var leader *testNode
	testutil.Eventually(t, testutil.WaitLimit, "a witness to lead and say no node holds the VIPs", func() bool {
		for _, n := range c.nodes[1:] {
			if n.raft.State() == raft.Leader && strings.Contains(n.Status().Degraded, "witness") {
				leader = n
				return true
			}
		}
		return false
	})
	if hs := c.holders(); len(hs) != 0 {
		t.Fatalf("holders = %v with only witnesses reachable", hs)
	}
	if !leader.Status().Witness {
		t.Fatalf("status of %s does not say it is a witness", leader.id)
	}
	c.heal(n1)
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold again", func() bool { h := c.holders(); return len(h) == 1 && h[0] == "n1" })
	if owned() || ownedBy3() {
		t.Fatal("a witness owned the VIPs")
	}
	testutil.Eventually(t, testutil.WaitLimit, "the former witness leader to stop saying it leads", func() bool { return leader.Status().Degraded == "" })
}

// TestShutdownHandsToAVIPHost: a stopping holder names the other VIP host,
// not raft's pick, which might be the witness.
func TestShutdownHandsToAVIPHost(t *testing.T) {
	t.Parallel()
	c := witnessCluster(t, "n3")
	h, want := c.holderAndHeir()
	owned := c.ownerWatch("n3")
	wasLeader := false
	stopWatch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			wasLeader = wasLeader || c.node("n3").raft.State() == raft.Leader
			select {
			case <-stopWatch:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	h.stop()
	c.awaitHeir(h, want)
	close(stopWatch)
	wg.Wait()
	if owned() || wasLeader {
		t.Fatalf("the witness led (%v) or owned the VIPs during the handover", wasLeader)
	}
	if got := c.node(want).Status().Members; roleOf(got, "n3") != fsm.RoleWitness || roleOf(got, want) != fsm.RoleVoter {
		t.Fatalf("members %+v: want n3 a witness and %s a voter", got, want)
	}
}

// TestPreparedShutdownChoosesOnce: a holder with a witness among the
// members checks, by dialling them, which VIP host can take over. An agent
// calls PrepareShutdown while it still serves the VIPs; Shutdown, after the
// drop, then hands over to that choice without dialling anyone again, so
// the dials are not part of the clients' outage.
func TestPreparedShutdownChoosesOnce(t *testing.T) {
	t.Parallel()
	c := witnessCluster(t, "n3")
	h, want := c.holderAndHeir()
	dials := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.dials
	}
	before := dials()
	h.PrepareShutdown(context.Background())
	prepared := dials()
	if prepared == before {
		t.Fatal("PrepareShutdown chose a successor without checking that it answers")
	}
	h.stop()
	if d := dials() - prepared; d != 0 {
		t.Errorf("Shutdown dialled %d times after PrepareShutdown had chosen, want 0", d)
	}
	c.awaitHeir(h, want)
}

// holderAndHeir returns, in a witness cluster whose witness is n3, the
// holder and the other VIP host.
func (c *testCluster) holderAndHeir() (*testNode, string) {
	h := c.holder()
	if h.id == "n1" {
		return h, "n2"
	}
	return h, "n1"
}

// awaitHeir forgets the stopped holder h and waits until heir alone holds.
func (c *testCluster) awaitHeir(h *testNode, heir string) {
	c.t.Helper()
	c.mu.Lock()
	c.nodes = removeNode(c.nodes, h)
	c.mu.Unlock()
	testutil.Eventually(c.t, testutil.WaitLimit, heir+" to hold", func() bool { hs := c.holders(); return len(hs) == 1 && hs[0] == heir })
}

func removeNode(ns []*testNode, x *testNode) []*testNode {
	var out []*testNode
	for _, n := range ns {
		if n != x {
			out = append(out, n)
		}
	}
	return out
}

func roleOf(ms []Member, id string) string {
	for _, m := range ms {
		if m.ID == id {
			return m.Role
		}
	}
	return ""
}
