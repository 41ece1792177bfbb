package cluster

import (
	"slices"
	"testing"

	"github.com/raftvip/raftvip/internal/testutil"
)

// TestPartitionedLeaderDropsFirst is the single-holder claim of docs/design.md,
// in process: the leader is cut off from both peers. Sampling every node's
// View about every millisecond, the old leader must stop holding strictly
// before any other node starts, a new holder must appear, and after the
// partition heals there is still exactly one holder. No sample may ever show
// two holders. It asserts orders, not durations.
func TestPartitionedLeaderDropsFirst(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3)
	old := c.holder()
	rec := c.record()

	c.isolate(old)
	var next string
	testutil.Eventually(t, testutil.WaitLimit, "a new holder in the majority", func() bool {
		for _, id := range c.holders() {
			if id != old.id {
				next = id
				return true
			}
		}
		return false
	})
	c.heal(old)
	testutil.Eventually(t, testutil.WaitLimit, "the old leader to follow the new one", func() bool {
		st := old.Status()
		return st.State == "Follower" && st.LeaderID == next && st.Owner.Node == next
	})
	rows := rec.finish(t)

	oldDropped, newHeld := -1, -1
	for i, row := range rows {
		if oldDropped < 0 && !slices.Contains(row, old.id) {
			oldDropped = i
		}
		if newHeld < 0 && slices.ContainsFunc(row, func(id string) bool { return id != old.id }) {
			newHeld = i
		}
	}
	if oldDropped < 0 || newHeld < 0 {
		t.Fatalf("no handover seen in %d samples (old dropped at %d, new held at %d)", len(rows), oldDropped, newHeld)
	}
	if oldDropped >= newHeld {
		t.Fatalf("old leader %s dropped at sample %d, not before the new holder appeared at sample %d",
			old.id, oldDropped, newHeld)
	}
	for i, row := range rows[oldDropped:] {
		if slices.Contains(row, old.id) {
			t.Fatalf("old leader %s held again at sample %d", old.id, oldDropped+i)
		}
	}
	if h := c.holder(); h.id != next {
		t.Fatalf("holder after heal = %s, want %s", h.id, next)
	}
	t.Logf("%d samples: old leader %s dropped at sample %d, %s held from sample %d",
		len(rows), old.id, oldDropped, next, newHeld)
}
