package main

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/e2e/internal/bench"
)

func TestParseTopology(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
		err  string
	}{
		{args: nil, want: []string{three}},
		{args: []string{"-topology", "pair"}, want: []string{pair}},
		{args: []string{"-topology", "three, pair"}, want: []string{three, pair}},
		{args: []string{"-topology", "quad"}, err: `unknown "quad"`},
		{args: []string{"-topology", ","}, err: "empty"},
	} {
		c, ok := parseCase(t, tc.args, tc.err)
		if ok && !slices.Equal(c.topologies, tc.want) {
			t.Errorf("parse(%q): topologies %q, want %q", tc.args, c.topologies, tc.want)
		}
	}
}

// The pair runs raftvip with a routed witness as n3 and keepalived on two
// hosts only; three nodes stay as before for both.
func TestLayout(t *testing.T) {
	for _, tc := range []struct {
		kind, topo     string
		nodes, witness int
		routed         bool
	}{
		{bench.Raftvip, three, 3, 0, false},
		{bench.Keepalived, three, 3, 0, false},
		{bench.Raftvip, pair, 3, 3, true},
		{bench.Keepalived, pair, 2, 0, false},
	} {
		opts, w := shape{tc.topo, 3}.layout(tc.kind)
		if opts.Nodes != tc.nodes || w != tc.witness || opts.RoutedWitness != tc.routed {
			t.Errorf("layout(%s, %s) = %d nodes, witness %d, routed %v; want %d, %d, %v",
				tc.kind, tc.topo, opts.Nodes, w, opts.RoutedWitness, tc.nodes, tc.witness, tc.routed)
		}
	}
}

// Results of the two topologies must not mix in one row, and each pair
// profile must have its keepalived pair to be compared with.
func TestPairLabelsArePaired(t *testing.T) {
	bin := "/bin/raftvip"
	p3, t3 := shape{pair, 3}, shape{three, 3}
	pairings := pairingsFor([]shape{t3, p3})
	for _, c := range []struct{ r, k spec }{
		{raftvipSpec("lan", bin, false, p3), keepalivedSpec("default", p3)},
		{raftvipSpec("fast", bin, false, p3), keepalivedSpec("tuned", p3)},
		{raftvipSpec("lan", bin, false, t3), keepalivedSpec("default", t3)},
	} {
		want := bench.Pairing{Raftvip: c.r.profile, Keepalived: c.k.profile}
		if !slices.Contains(pairings, want) {
			t.Errorf("no pairing %+v in %+v", want, pairings)
		}
	}
	if a, b := raftvipSpec("lan", bin, false, p3).profile, raftvipSpec("lan", bin, false, t3).profile; a == b {
		t.Errorf("pair and three share the profile label %q", a)
	}
	if got := raftvipSpec("lan", bin, true, p3).profile; got != "lan-plaintext-pair" {
		t.Errorf("plaintext pair label %q, want lan-plaintext-pair", got)
	}
	if got := raftvipSpec("lan", bin, false, t3).profile; got != "lan" {
		t.Errorf("three-node label %q, want lan as in earlier results", got)
	}
}

func TestKeepalivedPairConf(t *testing.T) {
	vips := vipList(1)
	n1, n2 := keepalivedConf(1, "default", pair, vips), keepalivedConf(2, "default", pair, vips)
	for _, want := range []string{"state MASTER", "priority 150", "vrrp_version 2", "advert_int 1\n", "192.0.2.100/24 dev eth0"} {
		if !strings.Contains(n1, want) {
			t.Errorf("n1's pair config lacks %q:\n%s", want, n1)
		}
	}
	for _, want := range []string{"state BACKUP", "priority 100"} {
		if !strings.Contains(n2, want) {
			t.Errorf("n2's pair config lacks %q:\n%s", want, n2)
		}
	}
	tuned := keepalivedConf(2, "tuned", pair, vips)
	if !strings.Contains(tuned, "vrrp_version 3") || !strings.Contains(tuned, "advert_int 0.1") {
		t.Errorf("tuned pair config is not VRRPv3 at 0.1 s:\n%s", tuned)
	}
	// Three nodes all start as BACKUP, as before.
	for i := 1; i <= 3; i++ {
		if c := keepalivedConf(i, "default", three, vips); !strings.Contains(c, "state BACKUP") {
			t.Errorf("n%d's three-node config does not start as BACKUP:\n%s", i, c)
		}
	}
}

func TestKeepalivedConfExcludedVIPs(t *testing.T) {
	vips := []netip.Prefix{netip.MustParsePrefix("192.0.2.100/24"), netip.MustParsePrefix("2001:db8::1:1/64")}
	c := keepalivedConf(1, "default", pair, vips)
	_, excluded, ok := strings.Cut(c, "virtual_ipaddress_excluded")
	if !ok || !strings.Contains(excluded, "2001:db8::1:1/64 dev eth0") || strings.Contains(excluded, "192.0.2.100") {
		t.Errorf("the second VIP is not the only excluded one:\n%s", c)
	}
}

func TestWitnessRole(t *testing.T) {
	for _, tc := range []struct {
		kind            string
		holder, witness bool
		want            string
	}{
		{bench.Raftvip, false, true, "witness"},
		{bench.Raftvip, true, false, "leader"},
		{bench.Raftvip, false, false, "follower"},
		{bench.Keepalived, true, false, "master"},
		{bench.Keepalived, false, false, "backup"},
	} {
		if got := role(tc.kind, tc.holder, tc.witness); got != tc.want {
			t.Errorf("role(%s, holder %v, witness %v) = %q, want %q", tc.kind, tc.holder, tc.witness, got, tc.want)
		}
	}
}
