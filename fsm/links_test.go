package fsm

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestLinksGolden pins the encoding of a health report with links, and
// checks that the member record carries them through a snapshot.
func TestLinksGolden(t *testing.T) {
	c := SetHealth("n1", true, "", 100).WithLinks([]string{"eth0", "lo"})
	b, err := c.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "command-health-links.bin"), b)
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(c, got, netipEq); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	f := goldenState(t)
	if err := f.Apply(3, b); err != nil {
		t.Fatal(err)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	m := g.State().Members["n1"]
	if !m.ReportedLinks() || !m.HasLink("eth0") || m.HasLink("eth1") {
		t.Fatalf("restored n1 = %+v: want links eth0 and lo", m)
	}
}

// TestOldEntriesReportNoLinks: a health report and snapshots from before
// links were reported leave members with no links reported, and they
// encode as before.
func TestOldEntriesReportNoLinks(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "command-health.bin"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.Encode(); err != nil || !bytes.Equal(again, b) {
		t.Fatalf("re-encoded old report = %q, %v: want the same bytes %q", again, err, b)
	}
	f := New()
	if err := f.Apply(3, b); err != nil {
		t.Fatal(err)
	}
	if m := f.State().Members["n1"]; m.ReportedLinks() {
		t.Fatalf("an old health report gave n1 links %v", m.Links)
	}
	for _, name := range []string{"snapshot-v1.json", "snapshot-v1-witness.json"} {
		snap, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		st, err := DecodeSnapshot(bytes.NewReader(snap))
		if err != nil {
			t.Fatal(err)
		}
		for id, m := range st.Members {
			if m.ReportedLinks() {
				t.Errorf("%s: member %s decoded with links %v", name, id, m.Links)
			}
		}
	}
}

// TestReportReplacesLinks: each report replaces the list; one without links
// (a node downgraded to a release that does not report them) clears it, so
// an old list is never held against the member.
func TestReportReplacesLinks(t *testing.T) {
	f := New()
	for _, c := range []Command{
		SetHealth("n1", true, "", 100).WithLinks([]string{"eth0", "eth1"}),
		SetHealth("n1", true, "", 100).WithLinks([]string{"eth0"}),
	} {
		if err := apply(t, f, 1, c); err != nil {
			t.Fatal(err)
		}
	}
	if m := f.State().Members["n1"]; m.HasLink("eth1") || !m.HasLink("eth0") {
		t.Fatalf("links after the second report: %v, want [eth0]", m.Links)
	}
	if err := apply(t, f, 1, SetHealth("n1", true, "", 100)); err != nil {
		t.Fatal(err)
	}
	if m := f.State().Members["n1"]; m.ReportedLinks() {
		t.Fatalf("links after a report without them: %v, want none", m.Links)
	}
}

func TestValidateLinkName(t *testing.T) {
	for _, name := range []string{"eth0", "lo", "enp0s31f6", "br-lan.100", strings.Repeat("a", 15), "vlan@x"} {
		if err := ValidateLinkName(name); err != nil {
			t.Errorf("ValidateLinkName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", strings.Repeat("a", 16), "eth0/1", "eth0:vip", "eth 0", "eth0\n", "\teth0"} {
		if err := ValidateLinkName(name); err == nil {
			t.Errorf("ValidateLinkName(%q) = nil, want refused", name)
		}
	}
	if err := validateLinks(make([]string, MaxLinks+1)); err == nil {
		t.Errorf("%d links accepted, want at most %d", MaxLinks+1, MaxLinks)
	}
}
