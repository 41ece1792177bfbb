//go:build linux

package netops

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops/nstest"
)

func TestARPProbePacket(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	p, err := arpProbe(hw, netip.MustParseAddr("192.0.2.50"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Operation != arp.OperationRequest || !p.SenderIP.IsUnspecified() || p.TargetIP != netip.MustParseAddr("192.0.2.50") ||
		!bytes.Equal(p.SenderHardwareAddr, hw) || !bytes.Equal(p.TargetHardwareAddr, make(net.HardwareAddr, 6)) {
		t.Errorf("probe = %+v, want a request from %s, sender IP 0.0.0.0, target MAC zero", p, hw)
	}
	if _, ok := arpSighting(p, net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}); ok {
		t.Error("another host's probe counted as speaking for the address")
	}
	g, _ := garpPackets(hw, netip.MustParseAddr("192.0.2.100"))
	if _, ok := arpSighting(g[0], hw); ok {
		t.Error("own gratuitous ARP counted as another host's")
	}
	if s, ok := arpSighting(g[0], net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}); !ok || s.IP != netip.MustParseAddr("192.0.2.100") || !bytes.Equal(s.MAC, hw) {
		t.Errorf("another host's gratuitous ARP = %+v %v, want a sighting of 192.0.2.100 at %s", s, ok, hw)
	}
}

// addOnPeer puts p on the veth's other end: the "other host" of these tests.
func addOnPeer(t *testing.T, ns *nstest.NS, p string) {
	t.Helper()
	a, err := netlink.ParseAddr(p)
	if err != nil {
		t.Fatal(err)
	}
	a.Flags = unix.IFA_F_NODAD
	if err := ns.Handle.AddrAdd(&netlink.Dummy{LinkAttrs: *ns.Attrs(t, nstest.Peer)}, a); err != nil {
		t.Fatalf("add %s to %s: %v", p, nstest.Peer, err)
	}
}

// probeIn probes ip on the node's link, from inside ns.
func probeIn(t *testing.T, ns *nstest.NS, ip string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	err := ns.Do(func() (err error) {
		mac, err = NewProber(time.Second).Probe(context.Background(), nstest.Link, netip.MustParseAddr(ip))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return mac
}

// TestKernelProbe: an address the other host has is answered, with its MAC;
// a free one is not.
func TestKernelProbe(t *testing.T) {
	ns := nstest.New(t)
	peer := ns.Attrs(t, nstest.Peer).HardwareAddr
	addOnPeer(t, ns, "192.0.2.50/24")
	addOnPeer(t, ns, "2001:db8::50/64")
	a, _ := netlink.ParseAddr("2001:db8::11/64")
	a.Flags = unix.IFA_F_NODAD
	if err := ns.Handle.AddrAdd(&netlink.Dummy{LinkAttrs: *ns.Attrs(t, nstest.Link)}, a); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip   string
		want net.HardwareAddr
	}{
		{"192.0.2.50", peer}, {"192.0.2.51", nil}, {"2001:db8::50", peer}, {"2001:db8::51", nil},
	} {
		if got := probeIn(t, ns, c.ip); !bytes.Equal(got, c.want) {
			t.Errorf("probe %s = %q, want %q", c.ip, got, c.want)
		}
	}
}

// watchIn runs a watch on the node's link inside ns until the test ends and
// returns what it saw.
func watchIn(t *testing.T, ns *nstest.NS, ip6 bool) func() []Sighting {
	t.Helper()
	var mu sync.Mutex
	var seen []Sighting
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ns.Do(func() error {
			return NewProber(0).Watch(ctx, nstest.Link, ip6, func(s Sighting) {
				mu.Lock()
				seen = append(seen, s)
				mu.Unlock()
			})
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch = %v", err)
		}
	})
	return func() []Sighting {
		mu.Lock()
		defer mu.Unlock()
		return append([]Sighting(nil), seen...)
	}
}

func sawFrom(ss []Sighting, ip netip.Addr, mac net.HardwareAddr) bool {
	for _, s := range ss {
		if s.Link == nstest.Link && s.IP == ip && bytes.Equal(s.MAC, mac) {
			return true
		}
	}
	return false
}

// TestKernelWatchARP: a gratuitous ARP from the other host for a VIP is seen,
// with the other host's MAC.
func TestKernelWatchARP(t *testing.T) {
	ns := nstest.New(t)
	peer := ns.Attrs(t, nstest.Peer).HardwareAddr
	addOnPeer(t, ns, "192.0.2.50/24")
	vip := netip.MustParseAddr("192.0.2.100")
	seen := watchIn(t, ns, false)
	var c *arp.Client
	onPeer(t, ns, func(ifi *net.Interface) (err error) { c, err = openARP(ifi); return err })
	defer c.Close()
	pkts, err := garpPackets(peer, vip)
	if err != nil {
		t.Fatal(err)
	}
	// The watch may open its socket after the first packets: send until seen.
	if err := testutil.Poll(captureFor, func() bool {
		_ = c.WriteTo(pkts[0], ethernet.Broadcast)
		return sawFrom(seen(), vip, peer)
	}); err != nil {
		t.Fatalf("gratuitous ARP from %s not seen: %v (saw %v)", peer, err, seen())
	}
}

// TestKernelWatchNDP: an unsolicited NA from the other host for a VIP is seen.
func TestKernelWatchNDP(t *testing.T) {
	ns := nstest.New(t)
	peer := ns.Attrs(t, nstest.Peer).HardwareAddr
	addOnPeer(t, ns, "2001:db8::50/64")
	vip := netip.MustParseAddr("2001:db8::100")
	seen := watchIn(t, ns, true)
	var c *ndp.Conn
	onPeer(t, ns, func(ifi *net.Interface) (err error) {
		c, _, err = ndp.Listen(ifi, ndp.Addr("2001:db8::50"))
		return err
	})
	defer c.Close()
	na, err := unaMessage(peer, vip)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.Poll(captureFor, func() bool {
		_ = c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes())
		return sawFrom(seen(), vip, peer)
	}); err != nil {
		t.Fatalf("neighbor advertisement from %s not seen: %v (saw %v)", peer, err, seen())
	}
}
