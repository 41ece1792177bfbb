package cluster

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
)

// reasons returns the reasons of n's failover history, oldest first.
func reasons(n *testNode) []fsm.Reason {
	var out []fsm.Reason
	for _, c := range n.Status().History {
		out = append(out, c.Reason)
	}
	return out
}

// TestHistoryNamesWhyTheVIPsMoved: the failover history that every node shows
// says why each move happened, although only the old leader knew: bootstrap,
// an operator's transfer, a graceful stop, the loss of the leader.
func TestHistoryNamesWhyTheVIPsMoved(t *testing.T) {
	t.Parallel()
	// Five, so that a majority is left after one stop and one loss.
	c := newCluster(t, 5)
	old := c.holder()
	if _, err := old.Transfer(context.Background(), ""); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	next := c.holder()
	next.stop() // a graceful stop hands over first
	third := c.holder()
	c.isolate(third) // lost: the last one elects
	var last *testNode
	testutil.Eventually(t, testutil.WaitLimit, "a holder other than the isolated one", func() bool {
		for _, n := range c.nodes {
			if n != third && n != next && n.Status().Holder {
				last = n
				return true
			}
		}
		return false
	})
	want := []fsm.Reason{fsm.ReasonBootstrap, fsm.ReasonTransfer, fsm.ReasonShutdown, fsm.ReasonElection}
	testutil.Eventually(t, testutil.WaitLimit, "the history on the holder", func() bool { return slices.Equal(reasons(last), want) })
	h := last.Status().History
	for i, ch := range h[1:] {
		if ch.From != h[i].To || ch.Term <= h[i].Term || ch.At == 0 {
			t.Errorf("entry %d = %+v does not follow %+v", i+1, ch, h[i])
		}
	}
	if h[1].From != old.id || h[2].From != next.id || h[3].From != third.id || h[3].To != last.id {
		t.Errorf("history = %+v, want moves %s → %s → %s → %s", h, old.id, next.id, third.id, last.id)
	}
}

// TestHandoverWaitsForTheDropNotTheMargin: a leader handing over while it
// holds the VIPs starts the transfer as soon as its reconciler confirms the
// drop (Config.Released), however much sooner or later than the timing
// margin that is; the margin is waited only where nothing can confirm it.
func TestHandoverWaitsForTheDropNotTheMargin(t *testing.T) {
	lan, err := Profile("lan")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		drop time.Duration // how long the reconciler takes; <0: no Released
		want time.Duration
	}{
		{"a quick drop", 3 * time.Millisecond, 3 * time.Millisecond},
		{"a drop slower than the margin", 300 * time.Millisecond, 300 * time.Millisecond},
		{"nothing to confirm it", -1, lan.margin()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := &Node{cfg: Config{Timing: lan}, log: slog.New(slog.DiscardHandler)}
				if tc.drop >= 0 {
					n.cfg.Released = func(context.Context) error { time.Sleep(tc.drop); return nil }
				}
				t0 := time.Now()
				n.awaitReleased(context.Background())
				if got := time.Since(t0); got != tc.want {
					t.Fatalf("the transfer waited %s, want %s", got, tc.want)
				}
			})
		})
	}
}

// TestHandoverReasonCommitsWhileHolding: a leader handing over commits why
// (the failover history's reason) while it still holds the VIPs, and gives
// them up only after, so that the clients' outage does not include that
// write. Both ways: `raftvip transfer`, and a graceful stop, whose agent
// calls PrepareShutdown before it drops the VIPs.
func TestHandoverReasonCommitsWhileHolding(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	nodes := map[string]*Node{}
	// heldAtRecord says, by node, whether it still held the VIPs when it
	// applied the first handover entry of its own.
	heldAtRecord := map[string]bool{}
	c := newClusterWith(t, 3, func(cfg *Config) {
		id := cfg.ID
		cfg.OnChange = func() {
			mu.Lock()
			defer mu.Unlock()
			n := nodes[id]
			if n == nil {
				return
			}
			if h := n.fsm.State().Handover; h != nil && h.From == id {
				if _, seen := heldAtRecord[id]; !seen {
					st, leader, term := n.View()
					heldAtRecord[id] = st.HeldBy(id, leader, term)
				}
			}
		}
	})
	mu.Lock()
	for _, n := range c.nodes {
		nodes[n.id] = n.Node
	}
	mu.Unlock()
	recorded := func(id string) (held, seen bool) {
		mu.Lock()
		defer mu.Unlock()
		held, seen = heldAtRecord[id]
		return held, seen
	}

	old := c.holder()
	if _, err := old.Transfer(context.Background(), ""); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	if held, seen := recorded(old.id); !seen || !held {
		t.Errorf("%s applied its handover entry (seen %v) holding the VIPs: %v, want true", old.id, seen, held)
	}

	next := c.holder()
	next.PrepareShutdown(context.Background())
	if held, seen := recorded(next.id); !seen || !held {
		t.Errorf("%s applied its shutdown entry (seen %v) holding the VIPs: %v, want true", next.id, seen, held)
	}
	if !next.Status().Holder {
		t.Errorf("%s let the VIPs go when it only prepared its shutdown", next.id)
	}
	next.stop()
	last := c.holder()
	want := []fsm.Reason{fsm.ReasonBootstrap, fsm.ReasonTransfer, fsm.ReasonShutdown}
	testutil.Eventually(t, testutil.WaitLimit, "the history on the holder", func() bool { return slices.Equal(reasons(last), want) })
}

// TestStoppingLeaderStaysForTheSuccessorsClaim: a leader stopped while one
// follower is cut off hands leadership to the other, and stays until that
// successor's claim has committed: with only two nodes left, its own
// acknowledgement is what commits it. A leader that left right after its
// vote would leave its successor without a majority for the claim.
func TestStoppingLeaderStaysForTheSuccessorsClaim(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	old := c.holder()
	oldTerm := old.Status().Owner.Term
	cutOff, successor := c.otherTwo(old)
	c.isolate(cutOff)
	// An entry only the successor has: raft hands leadership to the most
	// up-to-date follower.
	if err := old.Apply(context.Background(), fsm.SetMember(old.id, "api-"+old.id)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	old.stop()
	if o := old.fsm.Owner(); o.Node != successor.id || o.Term <= oldTerm {
		t.Fatalf("owner when %s stopped = %+v, want %s in a term after %d", old.id, o, successor.id, oldTerm)
	}
}

// TestTakeoverWritesOnlyTheClaim: a new leader's first write of its own is
// the claim, right behind raft's no-op, with no barrier before it: a
// takeover costs the leader one write round less. What the barrier stood
// for still holds: when the claim has committed, the new holder's FSM has
// applied what the old leader committed just before handing over.
func TestTakeoverWritesOnlyTheClaim(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	old := c.holder()
	late := vip("192.0.2.101/24")
	if err := old.Apply(context.Background(), fsm.AddVIP(late)); err != nil {
		t.Fatalf("add VIP: %v", err)
	}
	if _, err := old.Transfer(context.Background(), ""); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	next := c.holder()
	owner := next.Status().Owner
	if !slices.ContainsFunc(next.fsm.State().VIPs, func(v fsm.VIP) bool { return v.Prefix == late.Prefix }) {
		t.Errorf("%s holds without the VIP added before the transfer", next.id)
	}
	var kinds []string
	for i := next.raft.LastIndex(); i > 0; i-- {
		var l raft.Log
		if err := next.stores.logs.GetLog(i, &l); err != nil {
			t.Fatalf("log entry %d: %v", i, err)
		}
		if l.Term < owner.Term {
			break
		}
		kind := l.Type.String()
		if l.Type == raft.LogCommand {
			cmd, err := fsm.Decode(l.Data)
			if err != nil {
				t.Fatalf("log entry %d: %v", i, err)
			}
			kind = cmd.Type.String()
		}
		kinds = append([]string{kind}, kinds...)
	}
	claim := slices.Index(kinds, fsm.TypeClaim.String())
	if want := []string{raft.LogNoop.String(), fsm.TypeClaim.String()}; claim != 1 || !slices.Equal(kinds[:2], want) {
		t.Fatalf("entries of term %d = %q, want %q first", owner.Term, kinds, want)
	}
}
