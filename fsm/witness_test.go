package fsm

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// witnessCommands build a state with one witness on top of the golden state.
// They are kept apart from goldenCommands, whose snapshot is frozen.
func witnessCommands() []namedCommand {
	return []namedCommand{
		{"health-witness", SetWitnessHealth("w1", true, "", 100)},
	}
}

// TestWitnessGolden pins the encoding of a witness's health report and of a
// snapshot holding a witness, as TestGoldenCommands does for the rest.
func TestWitnessGolden(t *testing.T) {
	f := goldenState(t)
	if err := apply(t, f, 3, SetMember("w1", "198.51.100.10:8080")); err != nil {
		t.Fatal(err)
	}
	for _, c := range witnessCommands() {
		b, err := c.cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "command-"+c.name+".bin"), b)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", c.name, err)
		}
		if diff := cmp.Diff(c.cmd, got, netipEq); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", c.name, diff)
		}
		if err := f.Apply(3, b); err != nil {
			t.Fatal(err)
		}
	}
	b, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "snapshot-v1-witness.json"), b)
	g := New()
	if err := g.Restore(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if st := g.State(); !st.IsWitness("w1") || st.IsWitness("n1") || st.Members["w1"].Role() != RoleWitness {
		t.Fatalf("restored members %+v: want w1 alone a witness", st.Members)
	}
}

// TestOldEntriesAreNoWitness: a health report and a snapshot from before
// witnesses existed make VIP-capable members, as they always did.
func TestOldEntriesAreNoWitness(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "command-health.bin"))
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Apply(3, b); err != nil {
		t.Fatal(err)
	}
	if f.State().IsWitness("n1") || f.State().Members["n1"].Role() != RoleVoter {
		t.Fatalf("an old health report made n1 %+v", f.State().Members["n1"])
	}
	snap, err := os.ReadFile(filepath.Join("testdata", "snapshot-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeSnapshot(bytes.NewReader(snap))
	if err != nil {
		t.Fatal(err)
	}
	for id, m := range st.Members {
		if m.Witness {
			t.Errorf("old snapshot: member %s decoded as a witness", id)
		}
	}
}

// TestWitnessRoleFollowsReports: a node restarted without -witness is a
// VIP-capable voter again with its next report.
func TestWitnessRoleFollowsReports(t *testing.T) {
	f := New()
	for _, c := range []Command{SetWitnessHealth("w1", true, "", 100), SetHealth("w1", true, "", 100)} {
		if err := apply(t, f, 1, c); err != nil {
			t.Fatal(err)
		}
	}
	if f.State().IsWitness("w1") {
		t.Fatal("w1 is still a witness after a report without the flag")
	}
}
