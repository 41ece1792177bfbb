package fsm

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzRestore feeds arbitrary bytes to Restore as a snapshot (the seed
// corpus is in testdata/fuzz/FuzzRestore). It must never panic; a refused
// snapshot must leave the state as it was; an accepted one must hold only
// well-formed VIPs (not necessarily ones this release would submit: another
// release may have written them) and survive a snapshot and restore unchanged, so what a node
// restored is what it hands on to the next.
func FuzzRestore(f *testing.F) {
	// An empty list or map and a missing one are the same state.
	prefixes := cmp.Options{netipEq, cmpopts.EquateEmpty()}
	f.Fuzz(func(t *testing.T, b []byte) {
		g := goldenState(t)
		before := g.State()
		if err := g.Restore(bytes.NewReader(b)); err != nil {
			if diff := cmp.Diff(before, g.State(), prefixes); diff != "" {
				t.Fatalf("a refused restore (%v) changed the state (-before +after):\n%s", err, diff)
			}
			return
		}
		st := g.State()
		for _, v := range st.VIPs {
			if !v.Prefix.IsValid() {
				t.Fatalf("restored a VIP without a prefix from %q", b)
			}
		}
		again, err := g.Snapshot()
		if err != nil {
			t.Fatalf("restored %q but cannot snapshot it: %v", b, err)
		}
		h := New()
		if err := h.Restore(bytes.NewReader(again)); err != nil {
			t.Fatalf("restored %q, its snapshot %q is refused: %v", b, again, err)
		}
		if diff := cmp.Diff(st, h.State(), prefixes); diff != "" {
			t.Fatalf("snapshot of a restored state does not restore the same (-first +second):\n%s", diff)
		}
	})
}
