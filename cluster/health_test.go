package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
)

func reported(healthy bool, priority int) fsm.Member {
	return fsm.Member{Health: fsm.Health{Reported: true, Healthy: healthy, Priority: priority}}
}

func TestSuccession(t *testing.T) {
	t.Parallel()
	healthy := Health{Known: true, Healthy: true}
	sick := Health{Known: true, Fault: "check web: exit status 1"}
	voters := []string{"n1", "n2", "n3"}
	tests := []struct {
		name string
		in   successionInput
		want string // target, "" to keep, "degraded"
	}{
		{"healthy leader keeps", successionInput{health: healthy, priority: 100,
			members: map[string]fsm.Member{"n2": reported(true, 200)}}, ""},
		{"unknown health keeps", successionInput{health: Health{}, priority: 100, preempt: true,
			members: map[string]fsm.Member{"n2": reported(true, 200)}}, ""},
		{"unhealthy hands to the highest priority", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n2": reported(true, 150), "n3": reported(true, 180)}}, "n3"},
		{"equal priorities: lowest ID", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n2": reported(true, 100), "n3": reported(true, 100)}}, "n2"},
		{"unhealthy peers are no successors", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n2": reported(false, 200), "n3": reported(true, 50)}}, "n3"},
		{"a peer that never reported is no successor", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n2": {APIAddr: "x"}, "n3": reported(false, 50)}}, "degraded"},
		{"excluded peers are no successors", successionInput{health: sick, priority: 100,
			members:  map[string]fsm.Member{"n2": reported(true, 200), "n3": reported(true, 50)},
			excluded: map[string]bool{"n2": true}}, "n3"},
		{"non-voters are no successors", successionInput{health: sick, priority: 100, voters: []string{"n1", "n2"},
			members: map[string]fsm.Member{"n3": reported(true, 200)}}, "degraded"},
		{"no preemption without preempt", successionInput{health: healthy, priority: 100,
			members: map[string]fsm.Member{"n2": reported(true, 200)}}, ""},
		{"preempt for a higher priority", successionInput{health: healthy, priority: 100, preempt: true,
			members: map[string]fsm.Member{"n2": reported(true, 200)}}, "n2"},
		{"no preempt for an equal priority", successionInput{health: healthy, priority: 100, preempt: true,
			members: map[string]fsm.Member{"n2": reported(true, 100)}}, ""},
		{"no preempt for an unhealthy higher priority", successionInput{health: healthy, priority: 100, preempt: true,
			members: map[string]fsm.Member{"n2": reported(false, 200)}}, ""},
		{"own stale record is ignored", successionInput{health: sick, priority: 100,
			members: map[string]fsm.Member{"n1": reported(true, 255)}}, "degraded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.self = "n1"
			if tt.in.voters == nil {
				tt.in.voters = voters
			}
			d := succession(tt.in)
			got := d.Target
			if d.Degraded {
				got = "degraded"
			}
			if got != tt.want {
				t.Fatalf("succession = %+v, want %q", d, tt.want)
			}
			if got != "" && d.Reason == "" {
				t.Errorf("decision %+v gives no reason", d)
			}
		})
	}
}

// healthCluster is a 3-node cluster whose followers report their health to
// whichever node leads, as the agent does through the API.
func healthCluster(t *testing.T, mod func(id string, c *Config)) *testCluster {
	t.Helper()
	var c *testCluster
	c = newClusterWith(t, 3, func(cfg *Config) {
		cfg.Report = func(ctx context.Context, r HealthReport) error {
			for _, n := range c.nodes {
				if st := n.Status(); st.State == "Leader" {
					return n.Apply(ctx, r.Command())
				}
			}
			return ErrNoLeader
		}
		if mod != nil {
			mod(cfg.ID, cfg)
		}
	})
	for _, n := range c.nodes {
		n.SetHealth(Health{Known: true, Healthy: true})
	}
	c.waitReported(func(m map[string]fsm.Member) bool {
		for _, n := range c.nodes {
			if !m[n.id].Health.Healthy {
				return false
			}
		}
		return true
	})
	return c
}

// waitReported waits until every node's FSM satisfies cond.
func (c *testCluster) waitReported(cond func(map[string]fsm.Member) bool) {
	c.t.Helper()
	testutil.Eventually(c.t, testutil.WaitLimit, "health reports to replicate", func() bool {
		for _, n := range c.nodes {
			if !cond(n.fsm.State().Members) {
				return false
			}
		}
		return true
	})
}

func priorities(ps map[string]int) func(string, *Config) {
	return func(id string, c *Config) { c.Priority = ps[id] }
}

func TestUnhealthyLeaderHandsOver(t *testing.T) {
	t.Parallel()
	c := healthCluster(t, priorities(map[string]int{"n1": 100, "n2": 120, "n3": 150}))
	old := c.holder()
	old.SetHealth(Health{Known: true, Fault: "check web: exit status 1"})
	want := "n3"
	if old.id == "n3" {
		want = "n2"
	}
	testutil.Eventually(t, testutil.WaitLimit, "the VIPs to move to "+want, func() bool { h := c.holders(); return len(h) == 1 && h[0] == want })
	c.waitReported(func(m map[string]fsm.Member) bool {
		return !m[old.id].Health.Healthy && m[old.id].Health.Fault == "check web: exit status 1"
	})

	// Recovery does not pull leadership back without preempt: many handover
	// ticks later, the holder is the same node.
	old.SetHealth(Health{Known: true, Healthy: true})
	c.waitReported(func(m map[string]fsm.Member) bool { return m[old.id].Health.Healthy })
	c.node(want).waitHandoverPasses(t, 20)
	if h := c.holder(); h.id != want {
		t.Fatalf("holder = %s after %s recovered, want still %s", h.id, old.id, want)
	}
}

// TestUnhealthyLeaderPassesOverUnansweringVoter: the best successor's Raft
// port does not answer a dial (raft's own connection to it still works, so
// no heartbeat has failed yet, as right after an election): the unhealthy
// leader hands over to the next healthy voter instead of trying it.
func TestUnhealthyLeaderPassesOverUnansweringVoter(t *testing.T) {
	t.Parallel()
	c := healthCluster(t, priorities(map[string]int{"n1": 100, "n2": 120, "n3": 150}))
	old := c.holder()
	best, next := "n3", "n2"
	switch old.id {
	case "n3":
		best, next = "n2", "n1"
	case "n2":
		next = "n1"
	}
	c.waitReported(func(m map[string]fsm.Member) bool { return m[best].Health.Reported && m[next].Health.Reported })
	c.mu.Lock()
	c.unreachable[string(c.node(best).addr)] = true
	c.mu.Unlock()
	old.SetHealth(Health{Known: true, Fault: "check web: exit status 1"})
	testutil.Eventually(t, testutil.WaitLimit, "the VIPs to move to "+next, func() bool { h := c.holders(); return len(h) == 1 && h[0] == next })
}

func TestNoHealthyNodeKeepsVIPs(t *testing.T) {
	t.Parallel()
	c := healthCluster(t, nil)
	leader := c.holder()
	for _, n := range c.nodes {
		if n != leader {
			n.SetHealth(Health{Known: true, Fault: "check db: connection refused"})
		}
	}
	c.waitReported(func(m map[string]fsm.Member) bool {
		sick := 0
		for _, mb := range m {
			if mb.Health.Reported && !mb.Health.Healthy {
				sick++
			}
		}
		return sick == 2
	})
	leader.SetHealth(Health{Known: true, Fault: "check web: exit status 1"})
	testutil.Eventually(t, testutil.WaitLimit, "the leader to say it is degraded", func() bool {
		return strings.Contains(leader.Status().Degraded, "no other voter reports healthy")
	})
	if h := c.holders(); len(h) != 1 || h[0] != leader.id {
		t.Fatalf("holders = %v, want [%s]: with no healthy node the leader keeps the VIPs", h, leader.id)
	}
	// A peer that recovers gets the VIPs.
	var next *testNode
	for _, n := range c.nodes {
		if n != leader {
			next = n
			break
		}
	}
	next.SetHealth(Health{Known: true, Healthy: true})
	testutil.Eventually(t, testutil.WaitLimit, "the VIPs to move to the recovered "+next.id, func() bool {
		h := c.holders()
		return len(h) == 1 && h[0] == next.id
	})
	if d := leader.Status().Degraded; d != "" {
		t.Errorf("former leader still says degraded: %q", d)
	}
}

func TestPreempt(t *testing.T) {
	t.Parallel()
	for _, preempt := range []bool{false, true} {
		t.Run(fmt.Sprintf("preempt=%v", preempt), func(t *testing.T) {
			t.Parallel()
			c := healthCluster(t, func(id string, cfg *Config) {
				cfg.Preempt = preempt
				cfg.PreemptDelay = 5 * testTiming().Heartbeat
				if id == "n3" {
					cfg.Priority = 200
				}
			})
			if !preempt {
				// Long past the delay, with n3's priority known to the
				// leader, and many decisions later, n3 still does not lead.
				c.waitReported(func(m map[string]fsm.Member) bool { return m["n3"].Health.Priority == 200 })
				since := time.Now()
				h := c.holder()
				testutil.Eventually(t, testutil.WaitLimit, "the preempt delay to pass twice", func() bool {
					return time.Since(since) > 2*5*testTiming().Heartbeat
				})
				h.waitHandoverPasses(t, 20)
				if h := c.holder(); h.id == "n3" {
					t.Fatal("n3 holds the VIPs: it preempted without preempt")
				}
				return
			}
			testutil.Eventually(t, testutil.WaitLimit, "n3 to preempt", func() bool { h := c.holders(); return len(h) == 1 && h[0] == "n3" })
			st := c.node("n3").Status()
			if p := st.Owner.Previous; p == "" || p == "n3" || st.Owner.Since == 0 {
				t.Errorf("owner after preemption = %+v, want the previous owner and a claim time", st.Owner)
			}
			testutil.Eventually(t, testutil.WaitLimit, "every node to count the move and both leaders", func() bool {
				for _, n := range c.nodes {
					if s := n.Stats(); s.VIPMoves == 0 || s.LeaderChanges < 2 {
						return false
					}
				}
				return true
			})
			if s := c.node("n1").Stats(); s.Commits == 0 || s.CommitTime <= 0 {
				t.Errorf("n1 stats = %+v, want its claim and joins counted as commits", s)
			}
		})
	}
}

func TestConfigRefusesBadPriority(t *testing.T) {
	t.Parallel()
	for _, p := range []int{-1, 256} {
		cfg := Config{ID: "n1", Timing: testTiming(), InMemory: true, RaftBind: "127.0.0.1:0", Priority: p}
		if _, err := Open(cfg); err == nil || !strings.Contains(err.Error(), "priority") {
			t.Errorf("Open with priority %d = %v, want an error naming the priority", p, err)
		}
	}
}

// TestNoQuorumSaidLoudly: a member that cannot reach a majority logs, once,
// that no node holds the VIPs; a node waiting to be joined does not.
func TestNoQuorumSaidLoudly(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	leader := c.holder()
	var alone *testNode
	for _, n := range c.nodes {
		if n != leader {
			alone = n
			break
		}
	}
	waiting := c.start("n4", nil) // never joined
	c.isolate(alone)
	testutil.Eventually(t, testutil.WaitLimit, "the isolated node to report lost quorum", func() bool {
		return strings.Count(c.logs.String(), "no leader: no node holds the VIPs") == 1
	})
	// A second report, or one from the waiting node, would come within a
	// pass or two of the threshold: wait for twice the threshold (a lower
	// bound, so a slow machine only makes the check stricter).
	since := time.Now()
	testutil.Eventually(t, testutil.WaitLimit, "twice the no-leader threshold", func() bool {
		return time.Since(since) > 2*leaderlessAfter*testTiming().Election
	})
	if logs := c.logs.String(); strings.Count(logs, "no leader: no node holds the VIPs") != 1 {
		t.Errorf("lost quorum reported %d times (the waiting %s must not, the isolated node once)",
			strings.Count(logs, "no leader: no node holds the VIPs"), waiting.id)
	}
}

// TestFollowerHealthReachesLeaderAtOnce: a follower's failing check is in
// the leader's replicated state within milliseconds, not at the follower's
// next periodic pass (stepEvery, a second): the leader picks its successor
// by it, so a stale "healthy" could hand the VIPs to a node whose service
// is down. Virtual time (synctest), so a slow machine cannot fail it.
func TestFollowerHealthReachesLeaderAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := healthCluster(t, nil)
		leader := c.holder()
		f := c.nodes[0]
		if f == leader {
			f = c.nodes[1]
		}
		for _, wait := range []time.Duration{1300 * time.Millisecond, 700 * time.Millisecond} {
			time.Sleep(wait) // somewhere between two periodic passes
			healthy := !f.localHealth().Healthy
			h := Health{Known: true, Healthy: healthy}
			if !healthy {
				h.Fault = "check db: connection refused"
			}
			t0 := time.Now()
			f.SetHealth(h)
			for leader.fsm.State().Members[f.id].Health.Healthy != healthy {
				if d := time.Since(t0); d > 100*time.Millisecond {
					t.Fatalf("healthy=%v of %s not in the leader's state %s after it changed (Run passes every %s)",
						healthy, f.id, d, stepEvery(f.cfg.Timing, false))
				}
				time.Sleep(time.Millisecond)
			}
		}
		stopInBubble(c)
	})
}
