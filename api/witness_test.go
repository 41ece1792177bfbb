package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster"
)

// TestTransferToAWitnessIsRefused: the cluster's refusal is a 409 whose
// message names the witness, not a server error.
func TestTransferToAWitnessIsRefused(t *testing.T) {
	f := newLeader("n1")
	f.err = fmt.Errorf("transfer leadership to w1: %w", cluster.ErrWitness)
	_, ts := serve(t, f, nil)
	a := call(t, ts.URL, "POST", "/v1/transfer", testToken, `{"id":"w1"}`)
	if a.code != 409 || !strings.Contains(a.errMsg(), "w1") || !strings.Contains(a.errMsg(), "witness") {
		t.Fatalf("transfer to a witness: %d %q, want 409 naming w1 as a witness", a.code, a.errMsg())
	}
}

// TestWitnessReportsItself: a health report that says witness is recorded
// as a witness's (fsm.SetWitnessHealth), one without as before.
func TestWitnessReportsItself(t *testing.T) {
	f := newLeader("n1")
	var got []bool
	f.onApply = func(witness bool) { got = append(got, witness) }
	_, ts := serve(t, f, nil)
	for _, body := range []string{`{"id":"w1","healthy":true,"priority":100,"witness":true}`,
		`{"id":"n2","healthy":true,"priority":100}`} {
		if a := call(t, ts.URL, "POST", "/v1/health", testToken, body); a.code != 200 {
			t.Fatalf("POST /v1/health %s: %d %q", body, a.code, a.errMsg())
		}
	}
	if len(got) != 2 || !got[0] || got[1] {
		t.Fatalf("witness flags applied = %v, want [true false]", got)
	}
}
