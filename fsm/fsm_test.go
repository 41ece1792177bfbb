package fsm

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// netipEq compares netip values by value (they hold unexported pointers).
var netipEq = cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}

func vip(s string) VIP { return VIP{Prefix: netip.MustParsePrefix(s)} }

// apply encodes c, as the leader does, and applies it at logTerm, as every node does.
func apply(t *testing.T, f *FSM, logTerm uint64, c Command) error {
	t.Helper()
	b, err := c.Encode()
	if err != nil {
		t.Fatalf("encode %s: %v", c.Type, err)
	}
	return f.Apply(logTerm, b)
}

func TestClaims(t *testing.T) {
	tests := []struct {
		name    string
		logTerm uint64
		claim   Command
		want    Owner
		wantErr error
	}{
		{"newer term wins", 5, Claim("n2", 5), Owner{Node: "n2", Term: 5, Previous: "n1"}, nil},
		{"same owner same term is idempotent", 3, Claim("n1", 3), Owner{Node: "n1", Term: 3}, nil},
		{"older term rejected", 2, Claim("n2", 2), Owner{Node: "n1", Term: 3}, ErrStaleClaim},
		{"other node same term rejected", 3, Claim("n2", 3), Owner{Node: "n1", Term: 3}, ErrStaleClaim},
		{"claim term must match its log entry", 7, Claim("n2", 6), Owner{Node: "n1", Term: 3}, ErrStaleClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New()
			if err := apply(t, f, 3, Claim("n1", 3)); err != nil {
				t.Fatalf("first claim: %v", err)
			}
			err := apply(t, f, tt.logTerm, tt.claim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Apply = %v, want %v", err, tt.wantErr)
			}
			if got := f.State().Owner; got != tt.want {
				t.Fatalf("owner = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVIPSet(t *testing.T) {
	f := New()
	seed := []VIP{vip("192.0.2.101/24"), vip("192.0.2.100/24")}
	if err := apply(t, f, 1, SeedVIPs(seed)); err != nil {
		t.Fatal(err)
	}
	// A second seed (a bootstrap node restarted with other -vip flags) is ignored.
	if err := apply(t, f, 2, SeedVIPs([]VIP{vip("192.0.2.200/24")})); err != nil {
		t.Fatal(err)
	}
	v6 := VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64"), Interface: "eth0"}
	if err := apply(t, f, 2, AddVIP(v6)); err != nil {
		t.Fatal(err)
	}
	// Adding an existing address replaces it rather than duplicating it.
	relabelled := VIP{Prefix: netip.MustParsePrefix("192.0.2.101/32"), Label: "web"}
	if err := apply(t, f, 2, AddVIP(relabelled)); err != nil {
		t.Fatal(err)
	}
	if err := apply(t, f, 2, RemoveVIP(netip.MustParseAddr("192.0.2.100"))); err != nil {
		t.Fatal(err)
	}
	err := apply(t, f, 2, RemoveVIP(netip.MustParseAddr("192.0.2.99")))
	if !errors.Is(err, ErrNoSuchVIP) {
		t.Fatalf("removing an absent VIP = %v, want ErrNoSuchVIP", err)
	}
	want := []VIP{relabelled, v6}
	if diff := cmp.Diff(want, f.State().VIPs, netipEq); diff != "" {
		t.Fatalf("VIPs (-want +got):\n%s", diff)
	}
}

func TestMembers(t *testing.T) {
	f := New()
	for _, c := range []Command{SetMember("n1", "192.0.2.11:8080"), SetMember("n2", "192.0.2.12:8080"),
		SetMember("n1", "192.0.2.21:8080"), RemoveMember("n2")} {
		if err := apply(t, f, 1, c); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]Member{"n1": {APIAddr: "192.0.2.21:8080"}}
	if diff := cmp.Diff(want, f.State().Members); diff != "" {
		t.Fatalf("members (-want +got):\n%s", diff)
	}
}

func TestRejectedCommandLeavesStateAlone(t *testing.T) {
	f := New()
	if err := apply(t, f, 4, Claim("n1", 4)); err != nil {
		t.Fatal(err)
	}
	before := f.State()
	for _, data := range [][]byte{nil, {9, 1, '{', '}'}, {Version, 99, '{', '}'}, {Version, byte(TypeClaim), '{'},
		append([]byte{Version, byte(TypeAddVIP)}, `{"vip":{"prefix":""}}`...),
		append([]byte{Version, byte(TypeSeedVIPs)}, `{"vips":[{"label":"web"}]}`...)} {
		if err := f.Apply(5, data); err == nil {
			t.Errorf("Apply(%q) = nil, want an error", data)
		}
	}
	if diff := cmp.Diff(before, f.State(), netipEq); diff != "" {
		t.Fatalf("state changed (-before +after):\n%s", diff)
	}
}

func TestValidateVIP(t *testing.T) {
	tests := []struct {
		in           string
		iface, label string
		ok           bool
	}{
		{in: "192.0.2.100/24", ok: true},
		{in: "192.0.2.100/32", ok: true},
		{in: "2001:db8::100/64", ok: true},
		{in: "192.0.2.100/24", iface: "eth0", label: "web", ok: true},
		{in: "192.0.2.0/24"},
		{in: "192.0.2.255/24"},
		{in: "0.0.0.0/0"},
		{in: "127.0.0.1/8"},
		{in: "224.0.0.1/32"},
		{in: "fe80::1/64"},
		{in: "2001:db8::100/64", label: "web"},
		{in: "192.0.2.100/24", label: "a-very-long-label"},
		{in: "192.0.2.100/24", iface: "a-very-long-interface"},
	}
	for _, tt := range tests {
		v := VIP{Prefix: netip.MustParsePrefix(tt.in), Interface: tt.iface, Label: tt.label}
		err := ValidateVIP(v)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateVIP(%+v) = %v, want ok=%v", v, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidVIP) {
			t.Errorf("ValidateVIP(%+v) = %v, not ErrInvalidVIP", v, err)
		}
	}
	if _, err := ParseVIP("192.0.2.300/24"); err == nil || !strings.Contains(err.Error(), "192.0.2.300/24") {
		t.Errorf("ParseVIP of a bad CIDR = %v, want an error naming it", err)
	}
}

func TestHeldBy(t *testing.T) {
	s := State{Owner: Owner{Node: "n1", Term: 4}}
	tests := []struct {
		me     string
		leader bool
		term   uint64
		want   bool
	}{
		{"n1", true, 4, true},
		{"n1", false, 4, false}, // stepped down: drop at once
		{"n1", true, 5, false},  // re-elected, new claim not committed yet
		{"n2", true, 4, false},
		{"", true, 4, false},
	}
	for _, tt := range tests {
		if got := s.HeldBy(tt.me, tt.leader, tt.term); got != tt.want {
			t.Errorf("HeldBy(%q, %v, %d) = %v, want %v", tt.me, tt.leader, tt.term, got, tt.want)
		}
	}
}

func goldenState(t *testing.T) *FSM {
	t.Helper()
	f := New()
	for _, c := range goldenCommands() {
		if err := apply(t, f, 3, c.cmd); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

type namedCommand struct {
	name string
	cmd  Command
}

func goldenCommands() []namedCommand {
	return []namedCommand{
		{"seed", SeedVIPs([]VIP{vip("192.0.2.100/24")})},
		{"claim", Claim("n1", 3)},
		{"add-v4", AddVIP(VIP{Prefix: netip.MustParsePrefix("192.0.2.101/24"), Interface: "eth0", Label: "web"})},
		{"add-v6", AddVIP(vip("2001:db8::100/64"))},
		{"member", SetMember("n1", "192.0.2.11:8080")},
		{"member2", SetMember("n2", "192.0.2.12:8080")},
		{"remove-member", RemoveMember("n2")},
		{"remove-vip", RemoveVIP(netip.MustParseAddr("192.0.2.101"))},
		{"health", SetHealth("n1", false, `check "web" failing`, 150)},
		{"claim-timed", Command{Type: TypeClaim, Node: "n1", Term: 3, At: 1764000000000, Takeover: 312}},
		{"handover", HandoverOf("n1", "n2", ReasonHealth, 1764000005000)},
	}
}

// TestGoldenCommands pins the log encoding: entries written by this build must be
// readable by every later one, so a change here is a compatibility break.
func TestGoldenCommands(t *testing.T) {
	for _, c := range goldenCommands() {
		b, err := c.cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "command-"+c.name+".bin")
		golden(t, path, b)
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", c.name, err)
		}
		if diff := cmp.Diff(c.cmd, got, netipEq); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	f := goldenState(t)
	b, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "snapshot-v1-history.json"), b)

	g := New()
	if err := g.Restore(bytes.NewReader(b)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if diff := cmp.Diff(f.State(), g.State(), netipEq); diff != "" {
		t.Fatalf("restored state (-want +got):\n%s", diff)
	}
}

// TestSnapshotWithoutHistory: a snapshot written before the failover history
// existed restores, and this build writes that state back byte for byte: the
// history and the pending handover are optional fields of version 1.
func TestSnapshotWithoutHistory(t *testing.T) {
	for _, name := range []string{"snapshot-v1.json", "snapshot-v1-before-health.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		f := New()
		if err := f.Restore(bytes.NewReader(b)); err != nil {
			t.Fatalf("restore %s: %v", name, err)
		}
		if st := f.State(); st.History != nil || st.Handover != nil {
			t.Fatalf("%s restored with a history: %+v %+v", name, st.History, st.Handover)
		}
		again, err := f.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if name == "snapshot-v1.json" && !bytes.Equal(b, again) {
			t.Errorf("%s written back differently:\nwant %s\ngot  %s", name, b, again)
		}
	}
}

// TestRestoreBeforeHealth: a snapshot written before members reported health
// and claims carried timing restores to members that have not reported yet.
func TestRestoreBeforeHealth(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "snapshot-v1-before-health.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := New()
	if err := f.Restore(bytes.NewReader(b)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	st := f.State()
	if m := st.Members["n1"]; m.APIAddr != "192.0.2.11:8080" || m.Health.Reported {
		t.Fatalf("member n1 = %+v, want its API address and no health report", m)
	}
	if st.Owner != (Owner{Node: "n1", Term: 3}) {
		t.Fatalf("owner = %+v", st.Owner)
	}
}

func TestHealthReports(t *testing.T) {
	f := New()
	for _, c := range []Command{SetHealth("n2", true, "", 120), SetMember("n2", "192.0.2.12:8080"),
		SetHealth("n2", false, "check web: exit status 1", 120)} {
		if err := apply(t, f, 1, c); err != nil {
			t.Fatal(err)
		}
	}
	want := Member{APIAddr: "192.0.2.12:8080", Health: Health{Reported: true, Fault: "check web: exit status 1", Priority: 120}}
	if diff := cmp.Diff(want, f.State().Members["n2"]); diff != "" {
		t.Fatalf("member (-want +got):\n%s", diff)
	}
	if _, err := SetHealth("", true, "", 100).Encode(); !errors.Is(err, ErrMalformed) {
		t.Errorf("Encode of a report without an id = %v, want ErrMalformed", err)
	}
	for _, bad := range []Command{SetHealth("n1", true, "", 0), SetHealth("n1", true, "", 256),
		SetHealth("n1", false, strings.Repeat("x", MaxFault+1), 100), SetHealth("n1", false, "\xff", 100)} {
		if _, err := bad.Encode(); !errors.Is(err, ErrInvalidHealth) {
			t.Errorf("Encode(%+v) = %v, want ErrInvalidHealth", bad, err)
		}
	}
}

// TestOwnerHistory: the owner remembers who held the VIPs before it, so that
// status can show the last failover; a re-claim by the same node is no move.
func TestOwnerHistory(t *testing.T) {
	f := New()
	steps := []struct {
		term uint64
		cmd  Command
		want Owner
	}{
		{1, Claim("n1", 1), Owner{Node: "n1", Term: 1}},
		{2, Command{Type: TypeClaim, Node: "n2", Term: 2, At: 5000, Takeover: 300}, Owner{Node: "n2", Term: 2, Previous: "n1", Since: 5000, Takeover: 300}},
		{4, Command{Type: TypeClaim, Node: "n2", Term: 4, At: 9000, Takeover: 20}, Owner{Node: "n2", Term: 4, Previous: "n1", Since: 9000, Takeover: 20}},
	}
	for _, s := range steps {
		if err := apply(t, f, s.term, s.cmd); err != nil {
			t.Fatal(err)
		}
		if got := f.State().Owner; got != s.want {
			t.Fatalf("after %+v: owner = %+v, want %+v", s.cmd, got, s.want)
		}
	}
}

func TestRestoreRejectsDamage(t *testing.T) {
	f := goldenState(t)
	before := f.State()
	for _, in := range []string{"", "{", `{"version":2,"state":{}}`, `{"version":1,"state":{"vips":[{"prefix":""}]}}`,
		`{"version":1,"state":{"vips":[{"label":"web"}]}}`, `{"version":1,"state":{"vips":[{"prefix":"192.0.2.300/24"}]}}`,
		`{"version":1,"state":{},"extra":1}`, `{"version":1,"state":{}} {"version":1,"state":{}}`, `{"version":1,"state":{}} x`} {
		if err := f.Restore(strings.NewReader(in)); err == nil {
			t.Errorf("Restore(%q) = nil, want an error", in)
		}
	}
	if diff := cmp.Diff(before, f.State(), netipEq); diff != "" {
		t.Fatalf("a failed restore changed the state (-before +after):\n%s", diff)
	}
}

// golden compares got with the file at path. A golden file is the encoding
// of a released format, read back by every later release, so it is frozen:
// -update only creates files that do not exist yet, and never rewrites one.
// A format that must change gets a new version and new files beside the old.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("created %s", path)
		return
	}
	if err != nil {
		t.Fatalf("%v (run go test ./fsm -update to create a new golden file)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s is the frozen encoding of a released format and this build writes it differently "+
			"(-update never rewrites it):\nwant %q\ngot  %q", path, want, got)
	}
}

func FuzzDecode(f *testing.F) {
	for _, c := range goldenCommands() {
		b, _ := c.cmd.Encode()
		f.Add(b)
	}
	f.Add([]byte{Version, byte(TypeClaim)})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			return
		}
		// Anything Decode accepts, whatever the rules of the release that
		// wrote it, must survive a round trip and apply the same way on
		// every replica, without panicking.
		again, err := c.encode()
		if err != nil {
			t.Fatalf("decoded %q but cannot re-encode: %v", b, err)
		}
		// An empty list and a missing one are the same command.
		if d, err := Decode(again); err != nil || !cmp.Equal(c, d, netipEq, cmpopts.EquateEmpty()) {
			t.Fatalf("decoded %q as %+v, its re-encoding %q as %+v (%v)", b, c, again, d, err)
		}
		r1, r2 := goldenState(t), goldenState(t)
		err1, err2 := r1.Apply(c.Term, b), r2.Apply(c.Term, b)
		if (err1 == nil) != (err2 == nil) || !cmp.Equal(r1.State(), r2.State(), netipEq) {
			t.Fatalf("%q applied differently on two replicas: %v, %v", b, err1, err2)
		}
	})
}
