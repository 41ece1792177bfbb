package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// parseCase parses args and checks that it fails with an error containing
// wantErr, or succeeds when wantErr is empty; ok says there is a config to
// check further.
func parseCase(t *testing.T, args []string, wantErr string) (c config, ok bool) {
	t.Helper()
	c, err := parse(args)
	switch {
	case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
		t.Errorf("parse(%q) = %v, want an error containing %q", args, err, wantErr)
	case wantErr == "" && err != nil:
		t.Errorf("parse(%q): %v", args, err)
	}
	return c, wantErr == "" && err == nil
}

func TestParseNodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []int
		err  string
	}{
		{args: nil, want: []int{3}},
		{args: []string{"-nodes", "3,5,7"}, want: []int{3, 5, 7}},
		{args: []string{"-nodes", " 7 "}, want: []int{7}},
		{args: []string{"-topology", "pair", "-nodes", "3"}, want: []int{3}},
		{args: []string{"-nodes", "2"}, err: "want 3 to"},
		{args: []string{"-nodes", fmt.Sprint(lab.MaxNodes + 1)}, err: "want 3 to"},
		{args: []string{"-nodes", "5,5"}, err: "listed twice"},
		{args: []string{"-nodes", "five"}, err: "not a number"},
		{args: []string{"-nodes", ","}, err: "empty"},
		{args: []string{"-topology", "pair", "-nodes", "5"}, err: "the pair is always two VIP hosts and a witness"},
		{args: []string{"-topology", "three,pair", "-nodes", "3,5"}, err: "-topology three"},
	} {
		c, ok := parseCase(t, tc.args, tc.err)
		if ok && !slices.Equal(c.nodes, tc.want) {
			t.Errorf("parse(%q): nodes %v, want %v", tc.args, c.nodes, tc.want)
		}
	}
}

func TestParseVIPs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
		err  string
	}{
		{args: nil, want: 0},
		{args: []string{"-vips", "1024"}, want: 1024},
		{args: []string{"-vips", "-1"}, err: "want 0"},
		{args: []string{"-vips", fmt.Sprint(maxVIPs + 1)}, err: "want 0"},
	} {
		c, ok := parseCase(t, tc.args, tc.err)
		if ok && c.vips != tc.want {
			t.Errorf("parse(%q): vips %d, want %d", tc.args, c.vips, tc.want)
		}
	}
}

// Every size of -nodes runs in three, the pair once with its three nodes.
func TestShapes(t *testing.T) {
	got := shapes([]string{three, pair}, []int{3, 5})
	want := []shape{{three, 3}, {three, 5}, {pair, 3}}
	if !slices.Equal(got, want) {
		t.Errorf("shapes = %v, want %v", got, want)
	}
}

// Sizes but 3 carry their size in every label, build labs of that size, and
// are compared only with keepalived of the same size.
func TestSizeLabelsArePaired(t *testing.T) {
	bin := "/bin/raftvip"
	five, seven := shape{three, 5}, shape{three, 7}
	for _, tc := range []struct{ got, want string }{
		{raftvipSpec("lan", bin, false, five).profile, "lan-5n"},
		{raftvipSpec("fast", bin, true, seven).profile, "fast-plaintext-7n"},
		{keepalivedSpec("default", five).profile, "default-5n"},
		{keepalivedSpec("tuned", seven).profile, "tuned-7n"},
		{raftvipSpec("lan", bin, false, shape{three, 3}).profile, "lan"},
	} {
		if tc.got != tc.want {
			t.Errorf("label %q, want %q", tc.got, tc.want)
		}
	}
	for _, kind := range []string{bench.Raftvip, bench.Keepalived} {
		if opts, w := seven.layout(kind); opts.Nodes != 7 || w != 0 || opts.RoutedWitness {
			t.Errorf("%s in %v: %d nodes, witness %d, routed %v; want 7, 0, false", kind, seven, opts.Nodes, w, opts.RoutedWitness)
		}
	}
	pairings := pairingsFor([]shape{{three, 3}, five, seven})
	for _, want := range []bench.Pairing{{Raftvip: "lan-5n", Keepalived: "default-5n"}, {Raftvip: "fast-7n", Keepalived: "tuned-7n"}, {Raftvip: "lan", Keepalived: "default"}} {
		if !slices.Contains(pairings, want) {
			t.Errorf("no pairing %+v in %+v", want, pairings)
		}
	}
	for _, p := range pairings {
		if suffix := strings.TrimPrefix(p.Raftvip, "lan"); strings.HasPrefix(p.Raftvip, "lan") && p.Keepalived != "default"+suffix {
			t.Errorf("pairing %+v compares two sizes", p)
		}
	}
}

// keepalived's priorities follow the node order at every size, with n2 at
// the default 100 and the three-node values unchanged.
func TestKeepalivedPriorities(t *testing.T) {
	if a, b, c := keepalivedPriority(1), keepalivedPriority(2), keepalivedPriority(3); a != 150 || b != 100 || c != 50 {
		t.Errorf("priorities of n1..n3: %d, %d, %d; want 150, 100, 50", a, b, c)
	}
	for i := 2; i <= lab.MaxNodes; i++ {
		if p, before := keepalivedPriority(i), keepalivedPriority(i-1); p >= before || p < 1 {
			t.Errorf("n%d's priority %d: want 1 or more and below n%d's %d", i, p, i-1, before)
		}
	}
	conf := keepalivedConf(7, "default", three, vipList(1))
	if !strings.Contains(conf, fmt.Sprintf("priority %d\n", keepalivedPriority(7))) || !strings.Contains(conf, "state BACKUP") {
		t.Errorf("n7's config:\n%s", conf)
	}
	if note := sizeNote([]int{3, 5, 7}); !strings.Contains(note, "-5n, -7n") || !strings.Contains(note, "150, 100, 50, 49, 48, 47, 46") {
		t.Errorf("size note: %s", note)
	}
	if note := sizeNote([]int{3}); note != "" {
		t.Errorf("size note for three nodes only: %q, want none", note)
	}
}

// The scenarios' own lists stay as in earlier results: move256 is 128 IPv4
// from 192.0.2.100 and 128 IPv6, probed at its last.
func TestVIPListUnchanged(t *testing.T) {
	sc, _ := scenarioByName("move256")
	vips, probed := sc.withVIPs(1024).addrs()
	for k, want := range map[int]string{0: "192.0.2.100/24", 127: "192.0.2.227/24", 128: "2001:db8::1:1/64", 255: "2001:db8::1:80/64"} {
		if got := vips[k].String(); got != want {
			t.Errorf("move256 VIP %d = %s, want %s", k, got, want)
		}
	}
	if len(vips) != 256 || probed != vips[255].Addr() {
		t.Errorf("move256 with -vips 1024: %d VIPs, probe on %s; want 256, the last", len(vips), probed)
	}
}

// -vips 1024: as many IPv4 VIPs as the LAN has addresses no lab host takes,
// the rest IPv6, all distinct and in the documentation ranges; the probe
// stays on IPv4.
func TestSpareVIPs(t *testing.T) {
	sc, _ := scenarioByName("hostdown")
	sc = sc.withVIPs(1024)
	if sc.name != "hostdown-1024vips" {
		t.Errorf("scenario name %q, want hostdown-1024vips", sc.name)
	}
	vips, probed := sc.addrs()
	if len(vips) != 1024 {
		t.Fatalf("%d VIPs, want 1024", len(vips))
	}
	lan, v6net := netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/64")
	taken := map[netip.Addr]bool{}
	for _, a := range []string{"192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.50", "192.0.2.66", "192.0.2.255",
		"2001:db8::50", "2001:db8::66"} {
		taken[netip.MustParseAddr(a)] = true
	}
	for i := 1; i <= lab.MaxNodes; i++ {
		taken[netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})] = true
		taken[netip.MustParseAddr(fmt.Sprintf("2001:db8::%d", 10+i))] = true
	}
	seen, v4 := map[netip.Addr]bool{}, 0
	for _, v := range vips {
		a := v.Addr()
		switch {
		case seen[a] || taken[a]:
			t.Errorf("VIP %s repeated or taken by the lab", v)
		case a.Is4() && (!lan.Contains(a) || v.Bits() != 24):
			t.Errorf("VIP %s: want a /24 in %s", v, lan)
		case a.Is6() && (!v6net.Contains(a) || v.Bits() != 64):
			t.Errorf("VIP %s: want a /64 in %s", v, v6net)
		}
		seen[a] = true
		if a.Is4() {
			v4++
		}
	}
	if v4 != len(lab.SpareIPv4()) || v4 != 211 {
		t.Errorf("%d IPv4 VIPs, want all 211 spare addresses", v4)
	}
	if probed != netip.MustParseAddr("192.0.2.254") {
		t.Errorf("probe on %s, want the last IPv4 VIP 192.0.2.254", probed)
	}
	if note := vipsNote(1024); !strings.Contains(note, "211 IPv4") || !strings.Contains(note, "813 IPv6") || !strings.Contains(note, "192.0.2.254") {
		t.Errorf("VIP note: %s", note)
	}
}

// -vips changes only the failovers whose name does not state a count.
func TestWithVIPsLeaves(t *testing.T) {
	for _, name := range []string{"move16", "freeze-follower", "restart-follower"} {
		sc, _ := scenarioByName(name)
		if got := sc.withVIPs(1024); got.name != name || got.vips != sc.vips || got.spare {
			t.Errorf("%s with -vips 1024: %s with %d VIPs, want it unchanged", name, got.name, got.vips)
		}
	}
	sc, _ := scenarioByName("sigterm")
	if got := sc.withVIPs(0); got.name != "sigterm" || got.vips != 1 || got.spare {
		t.Errorf("sigterm with -vips 0: %s with %d VIPs, want it unchanged", got.name, got.vips)
	}
}

func TestHeldAlone(t *testing.T) {
	a := netip.MustParseAddr
	vips := []netip.Prefix{netip.MustParsePrefix("192.0.2.3/24"), netip.MustParsePrefix("2001:db8::1:1/64")}
	own := []netip.Addr{a("192.0.2.12"), a("192.0.2.3"), a("2001:db8::1:1"), a("192.0.2.3")} // .3 on two links
	for _, tc := range []struct {
		name  string
		addrs map[int][]netip.Addr
		err   string
	}{
		{"alone", map[int][]netip.Addr{1: {a("192.0.2.11")}, 2: own, 3: nil}, ""},
		{"missing one", map[int][]netip.Addr{2: {a("192.0.2.3")}}, "2001:db8::1:1/64 held by []"},
		{"two holders", map[int][]netip.Addr{1: {a("2001:db8::1:1")}, 2: own}, "2001:db8::1:1/64 held by [1 2]"},
	} {
		err := heldAlone(tc.addrs, vips, 2)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: heldAlone = %v, want %q", tc.name, err, tc.err)
		}
	}
}
