//go:build linux

package netops

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops/nstest"
	"github.com/vishvananda/netlink"
)

// addByHand adds p to nstest.Link as `ip addr add` would: without the mark,
// valid for validSecs and preferred for prefSecs (both 0: forever).
func addByHand(t *testing.T, ns *nstest.NS, p netip.Prefix, validSecs, prefSecs int) {
	t.Helper()
	l, err := ns.Handle.LinkByName(nstest.Link)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Handle.AddrAdd(l, &netlink.Addr{IPNet: ipNet(p), ValidLft: validSecs, PreferedLft: prefSecs}); err != nil {
		t.Fatalf("add %s by hand: %v", p, err)
	}
}

// foundOn returns List's record of p on nstest.Link, failing if absent.
func foundOn(t *testing.T, b *Netlink, p netip.Prefix) Found {
	t.Helper()
	fs, err := List(context.Background(), b, nstest.Link)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(fs, func(f Found) bool { return f.Prefix == p })
	if i < 0 {
		t.Fatalf("%s not on %s: %v", p, nstest.Link, fs)
	}
	return fs[i]
}

func TestKernelMark(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	v4 := Addr{Prefix: netip.MustParsePrefix("192.0.2.100/24"), Label: nstest.Link + ":vip"}
	v6 := Addr{Prefix: netip.MustParsePrefix("2001:db8::100/64")}
	for _, a := range []Addr{v4, v6, v4} { // the second v4 is a renewal
		if err := b.Bind(ctx, nstest.Link, a, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []Addr{v4, v6} {
		if f := foundOn(t, b, a.Prefix); !f.Ours || f.Legacy || f.Label != a.Label {
			t.Errorf("List has %+v, want %s with raftvip's mark and label %q", f, a.Prefix, a.Label)
		}
		// The kernel's own record: lifetime and label as netlink parses them.
		if na := kernelAddr(t, ns, nstest.Link, a.Prefix); na.ValidLft <= 0 || na.ValidLft > 10 || na.PreferedLft != 0 {
			t.Errorf("%s has valid_lft %d preferred_lft %d, want 1..10 and 0", a.Prefix, na.ValidLft, na.PreferedLft)
		}
	}
	static := netip.MustParsePrefix("192.0.2.60/24")
	addByHand(t, ns, static, 0, 0)
	legacy := netip.MustParsePrefix("192.0.2.70/24")
	addByHand(t, ns, legacy, 30, 0)
	dhcp := netip.MustParsePrefix("192.0.2.80/24")
	addByHand(t, ns, dhcp, 30, 30)
	slaac := netip.MustParsePrefix("2001:db8::80/64") // deprecated, without NODAD
	addByHand(t, ns, slaac, 30, 0)
	for _, tt := range []struct {
		p            netip.Prefix
		ours, legacy bool
	}{
		{netip.MustParsePrefix(nstest.Primary), false, false},
		{static, false, false},
		{legacy, false, true},
		{dhcp, false, false},
		{slaac, false, false},
	} {
		if f := foundOn(t, b, tt.p); f.Ours != tt.ours || f.Legacy != tt.legacy {
			t.Errorf("List has %+v, want Ours %t Legacy %t", f, tt.ours, tt.legacy)
		}
	}
}

// TestKernelForeignAddressIsLeftAlone is a VIP equal to the node's primary
// address: Bind must not take it over (it would get a lifetime and vanish),
// nor Unbind delete it. With another prefix length the kernel keeps a second
// IPv4 address beside the primary, which Bind then adds and Unbind removes;
// the reconciler never binds that VIP (Diff: a Conflict).
func TestKernelForeignAddressIsLeftAlone(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	primary := netip.MustParsePrefix(nstest.Primary)
	if err := b.Bind(ctx, nstest.Link, Addr{Prefix: primary}, 10*time.Second); !errors.Is(err, ErrForeign) {
		t.Errorf("Bind(%s) over the primary = %v, want ErrForeign", primary, err)
	}
	host := netip.PrefixFrom(primary.Addr(), 32)
	if err := b.Bind(ctx, nstest.Link, Addr{Prefix: host}, 10*time.Second); err != nil {
		t.Errorf("Bind(%s) beside the primary = %v, want nil", host, err)
	}
	if err := b.Unbind(ctx, nstest.Link, foundOn(t, b, host)); err != nil {
		t.Errorf("Unbind(%s) = %v", host, err)
	}
	if err := b.Unbind(ctx, nstest.Link, foundOn(t, b, primary)); !errors.Is(err, ErrForeign) {
		t.Errorf("Unbind(primary) = %v, want ErrForeign", err)
	}
	if ps := listed4(t, b); !slices.Equal(ps, []netip.Prefix{primary}) {
		t.Fatalf("addresses on %s: %v, want only the primary", nstest.Link, ps)
	}
	if f := foundOn(t, b, primary); f.Ours || f.Legacy {
		t.Errorf("the primary is now %+v, want it unmarked", f)
	}
	if na := kernelAddr(t, ns, nstest.Link, primary); uint32(na.ValidLft) != ^uint32(0) {
		t.Errorf("the primary's valid_lft is %d, want forever", na.ValidLft)
	}
}

// TestKernelRemoveLeftoversMarked is the start of a node whose VIP set names
// its own primary address: the marked and the legacy leftovers go, the primary
// and an operator's address equal to a VIP stay.
func TestKernelRemoveLeftoversMarked(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	primary := netip.MustParsePrefix(nstest.Primary)
	marked := netip.MustParsePrefix("192.0.2.100/24")
	legacy := netip.MustParsePrefix("192.0.2.110/24")
	operator := netip.MustParsePrefix("192.0.2.120/24")
	if err := b.Bind(ctx, nstest.Link, Addr{Prefix: marked}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	addByHand(t, ns, legacy, 30, 0)
	addByHand(t, ns, operator, 0, 0)
	var vips []fsm.VIP
	for _, p := range []netip.Prefix{primary, marked, legacy, operator} {
		vips = append(vips, fsm.VIP{Prefix: p})
	}
	removed, err := RemoveLeftovers(ctx, b, []string{nstest.Link}, vips, nil)
	if err != nil || !slices.Equal(removed, []netip.Prefix{marked, legacy}) {
		t.Fatalf("RemoveLeftovers = %v, %v; want [%s %s]", removed, err, marked, legacy)
	}
	if ps := listed4(t, b); !slices.Equal(ps, []netip.Prefix{primary, operator}) {
		t.Fatalf("left on %s: %v, want [%s %s]", nstest.Link, ps, primary, operator)
	}
}

// listed4 returns the IPv4 prefixes on nstest.Link: the kernel adds an IPv6
// link-local address of its own to every link.
func listed4(t *testing.T, b *Netlink) []netip.Prefix {
	t.Helper()
	return slices.DeleteFunc(listed(t, b, nstest.Link), func(p netip.Prefix) bool { return !p.Addr().Is4() })
}
