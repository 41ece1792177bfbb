package fsm

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// otherRules are log entries, as raw bytes, that are well formed but that
// this release's rules refuse to submit: what a release with looser or
// stricter rules may have committed. Each names the field Validate refuses.
var otherRules = []struct {
	name, field string
	entry       string
	cmd         Command
	want        error
}{
	{"network address", "prefix", "\x01\x02" + `{"vip":{"prefix":"192.0.2.0/24"}}`,
		AddVIP(vip("192.0.2.0/24")), ErrInvalidVIP},
	{"label on IPv6", "label", "\x01\x02" + `{"vip":{"prefix":"2001:db8::200/64","label":"web"}}`,
		AddVIP(VIP{Prefix: netip.MustParsePrefix("2001:db8::200/64"), Label: "web"}), ErrInvalidVIP},
	{"long interface", "interface", "\x01\x02" + `{"vip":{"prefix":"192.0.2.102/24","interface":"a-very-long-interface"}}`,
		AddVIP(VIP{Prefix: netip.MustParsePrefix("192.0.2.102/24"), Interface: "a-very-long-interface"}), ErrInvalidVIP},
	{"broadcast seed", "prefix", "\x01\x04" + `{"vips":[{"prefix":"198.51.100.255/24"}]}`,
		SeedVIPs([]VIP{vip("198.51.100.255/24")}), ErrInvalidVIP},
	{"priority 0", "priority", "\x01\x07" + `{"node":"n2","healthy":true}`,
		SetHealth("n2", true, "", 0), ErrInvalidHealth},
	{"priority 1000", "priority", "\x01\x07" + `{"node":"n3","priority":1000}`,
		SetHealth("n3", false, "", 1000), ErrInvalidHealth},
	{"long fault", "fault", "\x01\x07" + `{"node":"n4","fault":"` + strings.Repeat("x", 2*MaxFault) + `","priority":100}`,
		SetHealth("n4", false, strings.Repeat("x", 2*MaxFault), 100), ErrInvalidHealth},
}

// TestOtherRulesStillApply: an entry that this release would refuse to
// submit, but that another release committed, applies on every replica the
// same way and restores from a snapshot; submitting the same command here is
// refused, with an error naming the field.
func TestOtherRulesStillApply(t *testing.T) {
	replicas := []*FSM{goldenState(t), goldenState(t)}
	for _, r := range replicas {
		for _, e := range otherRules {
			if err := r.Apply(4, []byte(e.entry)); err != nil {
				t.Fatalf("%s: entry refused on apply: %v", e.name, err)
			}
		}
	}
	st := replicas[0].State()
	if diff := cmp.Diff(st, replicas[1].State(), netipEq); diff != "" {
		t.Fatalf("replicas differ (-first +second):\n%s", diff)
	}
	if _, ok := st.VIP(netip.MustParseAddr("192.0.2.0")); !ok {
		t.Errorf("network-address VIP not in the state: %v", st.VIPs)
	}
	if _, ok := st.VIP(netip.MustParseAddr("198.51.100.255")); ok {
		t.Errorf("seed applied to a seeded cluster: %v", st.VIPs)
	}
	if h := st.Members["n3"].Health; h.Priority != 1000 {
		t.Errorf("n3 health = %+v, want priority 1000 as committed", h)
	}

	snap, err := replicas[0].Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	restored := New()
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatalf("restore of a snapshot holding them: %v", err)
	}
	if diff := cmp.Diff(st, restored.State(), netipEq); diff != "" {
		t.Fatalf("restored state (-want +got):\n%s", diff)
	}

	for _, e := range otherRules {
		got, err := Decode([]byte(e.entry))
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		if diff := cmp.Diff(e.cmd, got, netipEq); diff != "" {
			t.Errorf("%s: decoded (-want +got):\n%s", e.name, diff)
		}
		_, err = e.cmd.Encode()
		if !errors.Is(err, e.want) || !strings.Contains(err.Error(), e.field) {
			t.Errorf("%s: Encode = %v, want %v naming %q", e.name, err, e.want, e.field)
		}
	}
}

// TestSeedRefusedIsNamed: a seed is refused as a whole, naming the VIP.
func TestSeedRefusedIsNamed(t *testing.T) {
	_, err := SeedVIPs([]VIP{vip("192.0.2.100/24"), vip("192.0.2.0/24")}).Encode()
	if !errors.Is(err, ErrInvalidVIP) || !strings.Contains(err.Error(), "vips[1]") {
		t.Fatalf("Encode = %v, want ErrInvalidVIP naming vips[1]", err)
	}
}

func TestTruncateFault(t *testing.T) {
	long := strings.Repeat("é", MaxFault) // two bytes each: a cut may fall inside one
	tests := []struct {
		in, want string
	}{
		{"", ""},
		{`check "web" failing`, `check "web" failing`},
		{strings.Repeat("x", MaxFault), strings.Repeat("x", MaxFault)},
		{strings.Repeat("x", MaxFault+1), strings.Repeat("x", MaxFault-3) + "..."},
		{long, strings.Repeat("é", (MaxFault-3)/2) + "..."},
		{"bad \xff byte", "bad \uFFFD byte"},
	}
	for _, tt := range tests {
		got := TruncateFault(tt.in)
		if got != tt.want {
			t.Errorf("TruncateFault(%.20q...) = %.20q... (%d bytes), want %.20q... (%d bytes)", tt.in, got, len(got), tt.want, len(tt.want))
		}
		if err := ValidateFault(got); err != nil {
			t.Errorf("TruncateFault(%.20q...) is refused: %v", tt.in, err)
		}
	}
}

func FuzzTruncateFault(f *testing.F) {
	f.Add(strings.Repeat("é", MaxFault))
	f.Add("\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		got := TruncateFault(s)
		if err := ValidateFault(got); err != nil {
			t.Fatalf("TruncateFault(%q) = %q: %v", s, got, err)
		}
		if utf8.ValidString(s) && len(s) <= MaxFault && got != s {
			t.Fatalf("TruncateFault(%q) = %q, want it unchanged", s, got)
		}
	})
}

func TestValidateNodeID(t *testing.T) {
	for _, id := range []string{"n1", "node-1.example_a", strings.Repeat("a", 64)} {
		if err := ValidateNodeID("id", id); err != nil {
			t.Errorf("ValidateNodeID(%q) = %v", id, err)
		}
	}
	for _, id := range []string{"", ".", "..", "-n1", "n 1", "n1/..", strings.Repeat("a", 65), "nœud"} {
		err := ValidateNodeID("-id", id)
		if err == nil || !strings.HasPrefix(err.Error(), "-id") {
			t.Errorf("ValidateNodeID(%q) = %v, want an error naming -id", id, err)
		}
	}
}
