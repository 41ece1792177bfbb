package cluster

import (
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/internal/testutil"
)

// TestPartitionedLeaderDropsFirst is the single-holder claim of docs/design.md,
// in process: the leader is cut off from both peers. Each node's reconciler
// binds the VIP on a fake kernel, and the LAN ledger they share fails the
// test the instant one binds it while another still holds it, so a short
// overlap cannot slip between two samples. The old leader must drop it, a
// node of the majority must take it, and after the partition heals the old
// leader follows, holding nothing, and the VIP has not moved again. It
// asserts orders, not durations.
func TestPartitionedLeaderDropsFirst(t *testing.T) {
	t.Parallel()
	c, lan := newLedgerCluster(t, 3)
	ip := ledgerVIP.Prefix.Addr()
	var old *testNode
	testutil.Eventually(t, testutil.WaitLimit, "exactly one node to hold the VIP", func() bool {
		h := lan.Holders(ip)
		if len(h) == 1 {
			old = c.node(h[0])
		}
		return len(h) == 1
	})
	for _, f := range c.fakes {
		f.Reset()
	}

	c.isolate(old)
	var next string
	testutil.Eventually(t, testutil.WaitLimit, "a node of the majority to hold the VIP", func() bool {
		h := lan.Holders(ip)
		if len(h) == 1 && h[0] != old.id {
			next = h[0]
		}
		return next != ""
	})
	c.heal(old)
	testutil.Eventually(t, testutil.WaitLimit, "the old leader to follow the new one", func() bool {
		st := old.Status()
		return st.State == "Follower" && st.LeaderID == next && st.Owner.Node == next
	})
	if h := lan.Holders(ip); !slices.Equal(h, []string{next}) {
		t.Fatalf("holders after the heal = %v, want %s alone", h, next)
	}
	// The old leader dropped the VIP once and never bound it again; the new
	// holder never let it go.
	if ev := c.fakes[old.id].Events(); !slices.ContainsFunc(ev, isUnbind) || slices.ContainsFunc(ev, isBind) {
		t.Fatalf("old leader %s's kernel calls %q, want an unbind and no bind", old.id, ev)
	}
	if ev := c.fakes[next].Events(); slices.ContainsFunc(ev, isUnbind) {
		t.Fatalf("new holder %s's kernel calls %q, want no unbind", next, ev)
	}
	if v := lan.Violations(); len(v) > 0 {
		t.Fatalf("two holders: %v", v)
	}
}

// isBind reports a call that puts the address in the kernel: a bind or a renewal.
func isBind(ev string) bool {
	return strings.HasPrefix(ev, "bind ") || strings.HasPrefix(ev, "renew ")
}
func isUnbind(ev string) bool { return strings.HasPrefix(ev, "unbind ") }
