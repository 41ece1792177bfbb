package netops_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

func TestRemoveLeftovers(t *testing.T) {
	ctx := context.Background()
	f := netopstest.NewFake()
	f.AddLink("eth0", own, own6, netip.MustParsePrefix("192.0.2.50/24"))
	f.AddLink("eth1")
	bindAs := func(link, p, label string) {
		t.Helper()
		if err := f.Bind(ctx, link, netops.Addr{Prefix: netip.MustParsePrefix(p), Label: label}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	bindAs("eth0", "192.0.2.100/32", "eth0:vip")  // a known VIP, another prefix length
	bindAs("eth0", "192.0.2.150/24", "eth0:vip")  // an unknown VIP: found by the default label
	bindAs("eth1", "198.51.100.7/24", "eth1:web") // found by the label of a known VIP
	bindAs("eth0", "2001:db8::100/64", "")        // an IPv6 VIP, pinned to eth0
	bindAs("eth0", "192.0.2.60/24", "eth0:admin") // the admin's alias: kept
	// A version from before the mark left 192.0.2.120/24; an operator added
	// 192.0.2.130/24 and 192.0.2.140/32 by hand, equal to VIPs.
	f.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.120/24"), Label: "eth0:vip"}, Legacy: true}, time.Hour)
	f.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.130/24")}}, 0)
	f.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.140/32")}, Legacy: true}, time.Hour)
	vips := []fsm.VIP{vip100, vip6, {Prefix: netip.MustParsePrefix("198.51.100.8/24"), Label: "web"},
		{Prefix: netip.MustParsePrefix("192.0.2.201/24"), Interface: "gone0"},
		{Prefix: own}, {Prefix: netip.MustParsePrefix("192.0.2.120/24")},
		{Prefix: netip.MustParsePrefix("192.0.2.130/24")}, {Prefix: netip.MustParsePrefix("192.0.2.140/24")}}
	f.Reset()

	logs := &netopstest.Logs{}
	removed, err := netops.RemoveLeftovers(ctx, f, []string{"eth1", "eth0", "eth0"}, vips, logs.Logger())
	if err != nil {
		t.Fatal(err)
	}
	want(t, "removed", []netip.Prefix{
		netip.MustParsePrefix("192.0.2.100/32"),
		netip.MustParsePrefix("192.0.2.150/24"),
		netip.MustParsePrefix("2001:db8::100/64"),
		netip.MustParsePrefix("192.0.2.120/24"),
		netip.MustParsePrefix("198.51.100.7/24"),
	}, removed)
	left, _ := netops.List(ctx, f, "eth0")
	want(t, "left on eth0", []netip.Prefix{own, own6, netip.MustParsePrefix("192.0.2.50/24"),
		netip.MustParsePrefix("192.0.2.60/24"), netip.MustParsePrefix("192.0.2.130/24"),
		netip.MustParsePrefix("192.0.2.140/32")}, netops.Prefixes(left))
	want(t, "kept addresses logged", 3, logs.Count("address was not added by raftvip: left in place"))
}
