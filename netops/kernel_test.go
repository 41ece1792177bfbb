package netops_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

func TestLinksLinkFor(t *testing.T) {
	at := func(p string, label string) netops.Found {
		return netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix(p), Label: label}}
	}
	deprecated := func(f netops.Found) netops.Found { f.Deprecated = true; return f }
	ours := func(f netops.Found) netops.Found { f.Ours = true; return f }
	legacy := func(f netops.Found) netops.Found { f.Legacy = true; return f }
	ls := netops.Links{
		"lo": {at("127.0.0.1/8", "lo")},
		"eth0": {at("10.0.0.1/8", "eth0"),
			deprecated(at("192.0.2.200/24", "eth0:vip")), // a VIP
			ours(at("203.0.113.0/25", "eth0")),
			legacy(at("203.0.113.128/25", "eth0")),
		},
		"eth1": {at("192.0.2.11/24", "eth1"), at("2001:db8::11/64", "")},
		"eth2": {at("203.0.113.9/24", "eth2:vip"), at("2001:db8::1:0/112", ""), at("192.0.2.12/24", "eth2")},
		"eth3": {deprecated(at("198.51.100.100/24", "eth3:web"))},
		"eth4": {at("192.0.2.77/32", "eth4")},
		"eth5": nil,
	}
	tests := []struct {
		ip   string
		want string // "": none
	}{
		{"192.0.2.100", "eth1"}, // eth1 and eth2 are both /24: the first by name
		{"192.0.2.11", "eth2"},  // an address is not its own subnet
		{"10.1.2.3", "eth0"},
		{"198.51.100.7", ""},  // only a deprecated address there
		{"203.0.113.7", ""},   // only a VIP label, raftvip's and a legacy VIP
		{"203.0.113.200", ""}, // the same
		{"192.0.2.77", "eth1"},
		{"2001:db8::100", "eth1"},
		{"2001:db8::1:5", "eth2"}, // the most specific subnet wins
	}
	for _, tt := range tests {
		got, err := ls.LinkFor(netip.MustParseAddr(tt.ip))
		if got != tt.want || (tt.want == "") != errors.Is(err, netops.ErrNoLink) {
			t.Errorf("LinkFor(%s) = %q, %v; want %q", tt.ip, got, err, tt.want)
		}
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	f := netopstest.NewFake()
	f.AddLink("eth0", own)
	f.AddLink("eth1")
	if fs, err := netops.List(ctx, f, "eth0"); err != nil || len(fs) != 1 || fs[0].Prefix != own {
		t.Errorf("List(eth0) = %v, %v; want %s", fs, err, own)
	}
	if fs, err := netops.List(ctx, f, "eth1"); err != nil || len(fs) != 0 {
		t.Errorf("List(eth1), a link without addresses = %v, %v; want none", fs, err)
	}
	if _, err := netops.List(ctx, f, "eth9"); !errors.Is(err, netops.ErrNoLink) {
		t.Errorf("List(eth9), no such link = %v, want ErrNoLink", err)
	}
}
