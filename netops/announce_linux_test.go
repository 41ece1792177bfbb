package netops

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

var (
	testMAC  = net.HardwareAddr{0x02, 0x00, 0x5e, 0x00, 0x00, 0x11}
	zeroMAC  = net.HardwareAddr{0, 0, 0, 0, 0, 0}
	testVIP4 = netip.MustParseAddr("192.0.2.100")
	testVIP6 = netip.MustParseAddr("2001:db8::100")
)

// checkGARP checks the two packets of a gratuitous ARP (see garpPackets).
func checkGARP(t *testing.T, pkts []*arp.Packet, hw net.HardwareAddr, vip netip.Addr) {
	t.Helper()
	if len(pkts) != 2 {
		t.Fatalf("got %d packets, want a request and a reply", len(pkts))
	}
	wantTarget := []net.HardwareAddr{zeroMAC, hw}
	for i, op := range []arp.Operation{arp.OperationRequest, arp.OperationReply} {
		p := pkts[i]
		if p.Operation != op || p.SenderIP != vip || p.TargetIP != vip ||
			!bytes.Equal(p.SenderHardwareAddr, hw) || !bytes.Equal(p.TargetHardwareAddr, wantTarget[i]) {
			t.Errorf("packet %d = op %s sender %s/%s target %s/%s, want op %s sender %s/%s target %s/%s",
				i, p.Operation, p.SenderIP, p.SenderHardwareAddr, p.TargetIP, p.TargetHardwareAddr,
				op, vip, hw, vip, wantTarget[i])
		}
		if bytes.Equal(p.TargetHardwareAddr, ethernet.Broadcast) {
			t.Errorf("packet %d has the broadcast target MAC that Linux ignores after a change", i)
		}
	}
}

func TestGARPPackets(t *testing.T) {
	pkts, err := garpPackets(testMAC, testVIP4)
	if err != nil {
		t.Fatal(err)
	}
	// Check what goes on the wire: the packets as decoded from their encoding.
	var decoded []*arp.Packet
	for _, p := range pkts {
		b, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got arp.Packet
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, &got)
	}
	checkGARP(t, decoded, testMAC, testVIP4)

	for _, bad := range []struct {
		hw  net.HardwareAddr
		vip netip.Addr
	}{{testMAC, testVIP6}, {net.HardwareAddr{1, 2}, testVIP4}, {testMAC, netip.Addr{}}} {
		if _, err := garpPackets(bad.hw, bad.vip); err == nil {
			t.Errorf("garpPackets(%s, %s) = nil error, want one", bad.hw, bad.vip)
		}
	}
}

func TestUNAMessage(t *testing.T) {
	m, err := unaMessage(testMAC, testVIP6)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ndp.MarshalMessage(m)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	checkNA(t, parsed, testMAC, testVIP6)
	for _, bad := range []netip.Addr{testVIP4, netip.MustParseAddr("::ffff:192.0.2.100"), {}} {
		if _, err := unaMessage(testMAC, bad); err == nil {
			t.Errorf("unaMessage(%s) = nil error, want one", bad)
		}
	}
	if _, err := unaMessage(net.HardwareAddr{1, 2, 3}, testVIP6); err == nil {
		t.Error("unaMessage with a 3-byte MAC = nil error, want one")
	}
}

// checkNA checks an unsolicited NA for vip at hw (see unaMessage).
func checkNA(t *testing.T, m ndp.Message, hw net.HardwareAddr, vip netip.Addr) {
	t.Helper()
	na, ok := m.(*ndp.NeighborAdvertisement)
	if !ok {
		t.Fatalf("got %T, want a neighbor advertisement", m)
	}
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != vip {
		t.Errorf("NA override=%t solicited=%t router=%t target=%s, want true false false %s",
			na.Override, na.Solicited, na.Router, na.TargetAddress, vip)
	}
	if len(na.Options) != 1 {
		t.Fatalf("NA options = %v, want one target link-layer address", na.Options)
	}
	lla, ok := na.Options[0].(*ndp.LinkLayerAddress)
	if !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, hw) {
		t.Errorf("NA option = %#v, want target link-layer address %s", na.Options[0], hw)
	}
}

// fakeConn records what the announcer writes, for both ARP and NDP.
type fakeConn struct {
	arpDst  []net.HardwareAddr
	arpPkts []*arp.Packet
	ndpMsgs []ndp.Message
	ndpDst  []netip.Addr
	failErr error
	closed  bool
}

func (c *fakeConn) WriteTo(p *arp.Packet, to net.HardwareAddr) error {
	c.arpPkts, c.arpDst = append(c.arpPkts, p), append(c.arpDst, to)
	return c.failErr
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

type fakeNDP struct{ *fakeConn }

func (c fakeNDP) WriteTo(m ndp.Message, _ *ipv6.ControlMessage, dst netip.Addr) error {
	c.ndpMsgs, c.ndpDst = append(c.ndpMsgs, m), append(c.ndpDst, dst)
	return c.failErr
}

// fakeAnnouncer returns a LinkAnnouncer on link eth0 whose sockets are fakes;
// every dial appends a new one to *conns.
func fakeAnnouncer(conns *[]*fakeConn) *LinkAnnouncer {
	a := NewAnnouncer(nil)
	a.iface = func(name string) (*net.Interface, error) {
		if name != "eth0" {
			return nil, errors.New("no such network interface")
		}
		return &net.Interface{Index: 2, Name: "eth0", HardwareAddr: testMAC}, nil
	}
	a.dialARP = func(*net.Interface) (arpConn, error) {
		c := &fakeConn{}
		*conns = append(*conns, c)
		return c, nil
	}
	a.dialNDP = func(*net.Interface, netip.Addr) (ndpConn, error) {
		c := &fakeConn{}
		*conns = append(*conns, c)
		return fakeNDP{c}, nil
	}
	return a
}

func TestLinkAnnouncer(t *testing.T) {
	ctx := context.Background()
	var conns []*fakeConn
	a := fakeAnnouncer(&conns)
	if err := a.Announce(ctx, "eth0", testVIP4); err != nil {
		t.Fatal(err)
	}
	if err := a.Announce(ctx, "eth0", testVIP4); err != nil {
		t.Fatal(err)
	}
	if len(conns) != 1 {
		t.Fatalf("dialled %d ARP sockets for one link, want 1", len(conns))
	}
	arpc := conns[0]
	checkGARP(t, arpc.arpPkts[2:], testMAC, testVIP4)
	for _, dst := range arpc.arpDst {
		if !bytes.Equal(dst, ethernet.Broadcast) {
			t.Errorf("frame sent to %s, want broadcast", dst)
		}
	}

	if err := a.Announce(ctx, "eth0", testVIP6); err != nil {
		t.Fatal(err)
	}
	ndpc := conns[1]
	if len(ndpc.ndpMsgs) != 1 || ndpc.ndpDst[0] != netip.IPv6LinkLocalAllNodes() {
		t.Fatalf("NDP writes = %v to %v, want one to ff02::1", ndpc.ndpMsgs, ndpc.ndpDst)
	}
	checkNA(t, ndpc.ndpMsgs[0], testMAC, testVIP6)

	// A failed send closes the link's sockets; the next announcement reopens.
	arpc.failErr = errors.New("network is down")
	if err := a.Announce(ctx, "eth0", testVIP4); err == nil {
		t.Fatal("Announce with a failing socket = nil error")
	}
	if !arpc.closed || !ndpc.closed {
		t.Fatalf("after a failed send: ARP closed %t, NDP closed %t, want both", arpc.closed, ndpc.closed)
	}
	if err := a.Announce(ctx, "eth0", testVIP4); err != nil || len(conns) != 3 {
		t.Fatalf("Announce after failure = %v with %d dials, want nil and 3", err, len(conns))
	}
	if err := a.Release("eth0"); err != nil || !conns[2].closed {
		t.Fatalf("Release = %v, closed %t; want nil and closed", err, conns[2].closed)
	}
	if err := a.Release("eth0"); err != nil {
		t.Fatalf("second Release = %v, want nil", err)
	}
	if err := a.Announce(ctx, "eth9", testVIP4); !errors.Is(err, ErrNoLink) {
		t.Fatalf("Announce on a missing link = %v, want ErrNoLink", err)
	}
	if err := a.Announce(ctx, "eth0", testVIP6); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil || !conns[3].closed {
		t.Fatalf("Close = %v, closed %t; want nil and closed", err, conns[3].closed)
	}
}
