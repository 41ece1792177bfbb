//go:build linux

package netops

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// captureFor bounds how long a test waits for a frame on the peer.
const captureFor = 5 * time.Second

// kernelAddr returns the kernel's record of p on link, failing if absent.
func kernelAddr(t *testing.T, ns *nstest.NS, link string, p netip.Prefix) netlink.Addr {
	t.Helper()
	l, err := ns.Handle.LinkByName(link)
	if err != nil {
		t.Fatal(err)
	}
	nas, err := ns.Handle.AddrList(l, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		t.Fatal(err)
	}
	for _, na := range nas {
		if got, ok := prefixOf(na.IPNet); ok && got == p {
			return na
		}
	}
	t.Fatalf("%s not on %s: %v", p, link, nas)
	return netlink.Addr{}
}

func TestKernelBindListUnbind(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	vip := Addr{Prefix: netip.MustParsePrefix("192.0.2.100/24"), Label: nstest.Link + ":vip"}

	if err := b.Bind(ctx, nstest.Link, vip, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	fs, err := List(ctx, b, nstest.Link)
	ps := Prefixes(fs)
	if err != nil || !slices.Contains(ps, vip.Prefix) || !slices.Contains(ps, netip.MustParsePrefix(nstest.Primary)) {
		t.Fatalf("List = %v, %v; want the VIP and the primary", ps, err)
	}
	na := kernelAddr(t, ns, nstest.Link, vip.Prefix)
	if na.ValidLft <= 0 || na.ValidLft > 10 || na.Label != vip.Label {
		t.Fatalf("kernel has valid_lft %d label %q, want 1..10 and %q", na.ValidLft, na.Label, vip.Label)
	}
	// Binding again renews, as Renew does: the lifetime is replaced.
	if err := b.Bind(ctx, nstest.Link, vip, 20*time.Second); err != nil {
		t.Fatalf("second Bind = %v, want nil (idempotent)", err)
	}
	if na := kernelAddr(t, ns, nstest.Link, vip.Prefix); na.ValidLft <= 10 || na.ValidLft > 20 {
		t.Fatalf("valid_lft after a second Bind = %d, want 11..20", na.ValidLft)
	}
	if err := b.Renew(ctx, nstest.Link, vip, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if na := kernelAddr(t, ns, nstest.Link, vip.Prefix); na.ValidLft <= 20 || na.ValidLft > 30 || na.Label != vip.Label {
		t.Fatalf("after Renew: valid_lft %d label %q, want 21..30 and %q", na.ValidLft, na.Label, vip.Label)
	}
	f := foundOn(t, b, vip.Prefix)
	if err := b.Unbind(ctx, nstest.Link, f); err != nil {
		t.Fatal(err)
	}
	if ps := listed(t, b, nstest.Link); slices.Contains(ps, vip.Prefix) {
		t.Fatalf("List after Unbind = %v", ps)
	}
	if err := b.Unbind(ctx, nstest.Link, f); err != nil {
		t.Fatalf("Unbind of an absent address = %v, want nil", err)
	}
	if ps := listed(t, b, nstest.Link); !slices.Contains(ps, netip.MustParsePrefix(nstest.Primary)) {
		t.Fatalf("the primary address is gone: %v", ps)
	}
	for name, err := range map[string]error{
		"Bind":   b.Bind(ctx, "nope0", vip, time.Second),
		"Renew":  b.Renew(ctx, "nope0", vip, time.Second),
		"Unbind": b.Unbind(ctx, "nope0", f),
		"List":   func() error { _, err := List(ctx, b, "nope0"); return err }(),
	} {
		if !errors.Is(err, ErrNoLink) {
			t.Errorf("%s on a missing link = %v, want ErrNoLink", name, err)
		}
	}
}

// TestKernelLinkMadeAgain: Bind acts on the link indexes Addrs read, and a
// link deleted and made again since, under a new index, is found again.
func TestKernelLinkMadeAgain(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	addDummy := func() int {
		t.Helper()
		if err := ns.Handle.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rvd0"}, PeerName: "rvd1"}); err != nil {
			t.Fatal(err)
		}
		return ns.Attrs(t, "rvd0").Index
	}
	old := addDummy()
	if _, err := b.Addrs(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ns.Handle.LinkDel(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "rvd0", Index: old}}); err != nil {
		t.Fatal(err)
	}
	if idx := addDummy(); idx == old {
		t.Fatalf("the link made again has its old index %d", old)
	}
	vip := Addr{Prefix: netip.MustParsePrefix("198.51.100.100/24"), Label: "rvd0:vip"}
	if err := b.Bind(ctx, "rvd0", vip, 10*time.Second); err != nil {
		t.Fatalf("Bind on the link made again = %v", err)
	}
	if ps := listed(t, b, "rvd0"); !slices.Contains(ps, vip.Prefix) {
		t.Fatalf("rvd0 has %v, want %s", ps, vip.Prefix)
	}
}

func TestKernelIPv6NoDAD(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	vip := netip.MustParsePrefix("2001:db8::100/64")
	if err := b.Bind(ctx, nstest.Link, Addr{Prefix: vip}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	na := kernelAddr(t, ns, nstest.Link, vip)
	if na.Flags&unix.IFA_F_NODAD == 0 || na.Flags&unix.IFA_F_TENTATIVE != 0 || na.ValidLft <= 0 || na.ValidLft > 5 {
		t.Fatalf("IPv6 VIP flags %#x valid_lft %d, want NODAD, not tentative, 1..5", na.Flags, na.ValidLft)
	}
}

func TestKernelLinkFor(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	linkFor := func(ip string) (string, error) {
		t.Helper()
		ls, err := b.Addrs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ls.LinkFor(netip.MustParseAddr(ip))
	}
	if link, err := linkFor("192.0.2.100"); link != nstest.Link || err != nil {
		t.Fatalf("LinkFor(192.0.2.100) = %q, %v; want %s", link, err, nstest.Link)
	}
	if _, err := linkFor("198.51.100.1"); !errors.Is(err, ErrNoLink) {
		t.Fatalf("LinkFor outside every subnet = %v, want ErrNoLink", err)
	}
	// A VIP held on the peer must not make the peer the link of its subnet.
	held := Addr{Prefix: netip.MustParsePrefix("192.0.2.150/24"), Label: nstest.Peer + ":vip"}
	if err := b.Bind(ctx, nstest.Peer, held, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if link, err := linkFor("192.0.2.151"); link != nstest.Link || err != nil {
		t.Fatalf("LinkFor with a VIP on the peer = %q, %v; want %s", link, err, nstest.Link)
	}
	if err := b.Bind(ctx, nstest.Link, Addr{Prefix: netip.MustParsePrefix("2001:db8::11/64")}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// That address is a VIP, so it is no subnet of the node's.
	if _, err := linkFor("2001:db8::100"); !errors.Is(err, ErrNoLink) {
		t.Fatalf("LinkFor(2001:db8::100) with only a VIP in the subnet = %v, want ErrNoLink", err)
	}
	// Nor is an address without the mark that is deprecated, as every VIP of
	// a version from before the mark was, though its subnet is more specific.
	addByHand(t, ns, netip.MustParsePrefix("198.51.100.11/24"), 0, 0)
	if err := ns.Handle.AddrReplace(peerLink(t, ns), &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("198.51.100.12/25")),
		ValidLft: 60, PreferedLft: 0}); err != nil {
		t.Fatal(err)
	}
	if link, err := linkFor("198.51.100.100"); link != nstest.Link || err != nil {
		t.Fatalf("LinkFor with a deprecated address on the peer = %q, %v; want %s", link, err, nstest.Link)
	}
}

func peerLink(t *testing.T, ns *nstest.NS) netlink.Link {
	t.Helper()
	l, err := ns.Handle.LinkByName(nstest.Peer)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestKernelRemoveLeftovers(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	b := openNetlink(t, ns)
	left := Addr{Prefix: netip.MustParsePrefix("192.0.2.150/24"), Label: nstest.Link + ":vip"}
	if err := b.Bind(ctx, nstest.Link, left, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	links := []string{nstest.Link, nstest.Peer, "lo", "nope0"}
	removed, err := RemoveLeftovers(ctx, b, links, []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24")}}, nil)
	if err != nil || !slices.Equal(removed, []netip.Prefix{left.Prefix}) {
		t.Fatalf("RemoveLeftovers = %v, %v; want [%s]", removed, err, left.Prefix)
	}
	if ps := listed(t, b, nstest.Link); slices.Contains(ps, left.Prefix) || !slices.Contains(ps, netip.MustParsePrefix(nstest.Primary)) {
		t.Fatalf("left on %s: %v, want the primary and not %s", nstest.Link, ps, left.Prefix)
	}
}

// onPeer runs open with the peer's interface inside ns, to open a capture socket.
func onPeer(t *testing.T, ns *nstest.NS, open func(ifi *net.Interface) error) {
	t.Helper()
	err := ns.Do(func() error {
		ifi, err := net.InterfaceByName(nstest.Peer)
		if err != nil {
			return err
		}
		return open(ifi)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// announceIn binds vip on the link and announces it from inside ns, where the
// announcer opens its sockets.
func announceIn(t *testing.T, ns *nstest.NS, vip netip.Prefix) {
	t.Helper()
	a := NewAnnouncer(nil)
	t.Cleanup(func() { _ = a.Close() })
	b := openNetlink(t, ns)
	ctx := context.Background()
	v := ResolvedVIP{VIP: fsm.VIP{Prefix: vip}, Link: nstest.Link}
	if err := b.Bind(ctx, nstest.Link, v.Addr(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := ns.Do(func() error { return a.Announce(ctx, nstest.Link, vip.Addr()) }); err != nil {
		t.Fatal(err)
	}
}

func TestKernelGARPOnTheWire(t *testing.T) {
	ns := nstest.New(t)
	hw := ns.Attrs(t, nstest.Link).HardwareAddr
	vip := netip.MustParsePrefix("192.0.2.100/24")
	var capture *packet.Conn
	onPeer(t, ns, func(ifi *net.Interface) (err error) {
		capture, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	})
	defer capture.Close()
	announceIn(t, ns, vip)

	if err := capture.SetReadDeadline(time.Now().Add(captureFor)); err != nil {
		t.Fatal(err)
	}
	var got []*arp.Packet
	buf := make([]byte, 1500)
	for len(got) < 2 {
		n, _, err := capture.ReadFrom(buf)
		if err != nil {
			t.Fatalf("after %d of 2 GARP frames: %v", len(got), err)
		}
		var f ethernet.Frame
		var p arp.Packet
		if f.UnmarshalBinary(buf[:n]) != nil || p.UnmarshalBinary(f.Payload) != nil || p.SenderIP != vip.Addr() {
			continue
		}
		if !bytes.Equal(f.Destination, ethernet.Broadcast) || !bytes.Equal(f.Source, hw) {
			t.Errorf("frame %s -> %s, want %s -> broadcast", f.Source, f.Destination, hw)
		}
		got = append(got, &p)
	}
	checkGARP(t, got, hw, vip.Addr())
}

func TestKernelNAOnTheWire(t *testing.T) {
	ns := nstest.New(t)
	hw := ns.Attrs(t, nstest.Link).HardwareAddr
	peer := ns.Attrs(t, nstest.Peer).Index
	vip := netip.MustParsePrefix("2001:db8::100/64")
	var capture *ndp.Conn
	onPeer(t, ns, func(ifi *net.Interface) (err error) {
		if capture, _, err = ndp.Listen(ifi, ndp.Unspecified); err != nil {
			return err
		}
		// Both ends share the namespace: only what arrived on the peer counts.
		return capture.SetControlMessage(ipv6.FlagInterface, true)
	})
	defer capture.Close()
	announceIn(t, ns, vip)

	if err := capture.SetReadDeadline(time.Now().Add(captureFor)); err != nil {
		t.Fatal(err)
	}
	for {
		m, cm, _, err := capture.ReadFrom()
		if err != nil {
			t.Fatalf("no neighbor advertisement for %s on %s: %v", vip.Addr(), nstest.Peer, err)
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if ok && na.TargetAddress == vip.Addr() && cm != nil && cm.IfIndex == peer {
			checkNA(t, na, hw, vip.Addr())
			return
		}
	}
}

// TestKernelReconciler runs a Reconciler on the real kernel: it binds the VIP
// with label and lifetime while the node holds it, and removes it on shutdown.
func TestKernelReconciler(t *testing.T) {
	ns := nstest.New(t)
	vip := fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24")}
	b := openNetlink(t, ns)
	a := NewAnnouncer(nil)
	defer a.Close()
	st := fsm.State{VIPs: []fsm.VIP{vip}, Owner: fsm.Owner{Node: "n1", Term: 2}}
	r, err := NewReconciler(Config{Node: "n1", Binder: b, Announcer: a, Lease: 2 * time.Second,
		View: func() View { return View{State: st, Leader: true, Term: 2} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Run on a thread inside the namespace, where the announcer opens sockets.
	go func() { done <- ns.Do(func() error { return r.Run(ctx) }) }()

	if err := testutil.Poll(captureFor, func() bool { return slices.Equal(r.Held(), []netip.Prefix{vip.Prefix}) }); err != nil {
		cancel()
		<-done
		t.Fatalf("VIP not held: %v", err)
	}
	na := kernelAddr(t, ns, nstest.Link, vip.Prefix)
	if na.Label != nstest.Link+":vip" || na.ValidLft <= 0 || na.ValidLft > 2 {
		t.Errorf("kernel has label %q valid_lft %d, want %s:vip and 1..2", na.Label, na.ValidLft, nstest.Link)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	if ps := listed(t, b, nstest.Link); slices.Contains(ps, vip.Prefix) {
		t.Fatalf("VIP still bound after shutdown: %v", ps)
	}
}

// listed returns the prefixes on link, failing t if List fails.
func listed(t *testing.T, b Binder, link string) []netip.Prefix {
	t.Helper()
	fs, err := List(context.Background(), b, link)
	if err != nil {
		t.Fatal(err)
	}
	return Prefixes(fs)
}

// openNetlink is the Binder inside ns, closed when the test ends.
func openNetlink(t *testing.T, ns *nstest.NS) *Netlink {
	t.Helper()
	b, err := OpenNetlink(ns.NS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
