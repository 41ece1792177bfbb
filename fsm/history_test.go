package fsm

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func timedClaim(node string, term uint64, at, takeover int64) Command {
	c := Claim(node, term)
	c.At, c.Takeover = at, takeover
	return c
}

// TestFailoverHistory: each claim in a newer term adds one entry saying why
// the VIPs moved; the reason comes from the handover the previous owner
// recorded in its own term, and otherwise the previous leader was lost.
func TestFailoverHistory(t *testing.T) {
	f := New()
	steps := []struct {
		term uint64
		cmd  Command
	}{
		{1, timedClaim("n1", 1, 1000, 0)},
		{1, timedClaim("n1", 1, 1000, 0)},                   // same term again: no move
		{1, HandoverOf("n1", "n2", ReasonTransfer, 2000)},   // operator transfer
		{2, timedClaim("n2", 2, 2010, 12)},                  // consumes it
		{3, timedClaim("n3", 3, 9000, 400)},                 // n2 lost: election
		{3, HandoverOf("n2", "", ReasonShutdown, 9500)},     // not the owner: ignored
		{4, timedClaim("n1", 4, 9600, 30)},                  // so: election
		{4, HandoverOf("n1", "n2", ReasonHealth, 10000)},    // transfer fails ...
		{5, timedClaim("n2", 5, 10000+handoverWindow, 500)}, // ... n1 lost much later
		{5, HandoverOf("n2", "n3", ReasonPreempt, 50000)},   // preemption
		{5, HandoverOf("n2", "", ReasonShutdown, 50100)},    // the latest intent wins
		{6, timedClaim("n3", 6, 50130, 25)},                 // consumes the shutdown
		{7, timedClaim("n3", 7, 60000, 250)},                // re-elected
		{8, Claim("n1", 8)},                                 // no times: still recorded
	}
	for _, s := range steps {
		if err := apply(t, f, s.term, s.cmd); err != nil {
			t.Fatalf("apply %+v: %v", s.cmd, err)
		}
	}
	want := []Change{
		{At: 1000, To: "n1", Term: 1, Reason: ReasonBootstrap},
		{At: 2010, From: "n1", To: "n2", Term: 2, Takeover: 12, Reason: ReasonTransfer},
		{At: 9000, From: "n2", To: "n3", Term: 3, Takeover: 400, Reason: ReasonElection},
		{At: 9600, From: "n3", To: "n1", Term: 4, Takeover: 30, Reason: ReasonElection},
		{At: 10000 + handoverWindow, From: "n1", To: "n2", Term: 5, Takeover: 500, Reason: ReasonElection},
		{At: 50130, From: "n2", To: "n3", Term: 6, Takeover: 25, Reason: ReasonShutdown},
		{At: 60000, From: "n3", To: "n3", Term: 7, Takeover: 250, Reason: ReasonElection},
		{From: "n3", To: "n1", Term: 8, Reason: ReasonElection},
	}
	st := f.State()
	if diff := cmp.Diff(want, st.History); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	if st.Handover != nil {
		t.Fatalf("a claim left the handover pending: %+v", st.Handover)
	}
}

// TestHistoryIsBounded: the history keeps the last MaxHistory changes.
func TestHistoryIsBounded(t *testing.T) {
	f := New()
	for term := uint64(1); term <= MaxHistory+10; term++ {
		if err := apply(t, f, term, timedClaim(fmt.Sprintf("n%d", term%3), term, int64(term), 0)); err != nil {
			t.Fatal(err)
		}
	}
	h := f.State().History
	if len(h) != MaxHistory || h[0].Term != 11 || h[len(h)-1].Term != MaxHistory+10 {
		t.Fatalf("history holds %d entries, terms %d..%d; want %d, terms 11..%d",
			len(h), h[0].Term, h[len(h)-1].Term, MaxHistory, MaxHistory+10)
	}
}

func TestHandoverRules(t *testing.T) {
	if _, err := HandoverOf("", "n2", ReasonHealth, 0).Encode(); !errors.Is(err, ErrMalformed) {
		t.Errorf("handover without a leader = %v, want ErrMalformed", err)
	}
	for _, r := range []Reason{"", "a reason far longer than thirty-two bytes", "\xff"} {
		if _, err := HandoverOf("n1", "", r, 0).Encode(); !errors.Is(err, ErrInvalidHandover) {
			t.Errorf("handover with reason %q = %v, want ErrInvalidHandover", r, err)
		}
	}
	// Applied as written, whatever the rules: a later release may use other reasons.
	f := New()
	long := Reason("a reason far longer than thirty-two bytes")
	c := HandoverOf("n1", "", long, 0)
	b, err := c.encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Apply(1, b); err != nil || f.State().Handover.Reason != long {
		t.Fatalf("apply of an unknown reason: %v, %+v", err, f.State().Handover)
	}
}
