package netops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// DefaultProbeWait is how long a probe waits for an answer. A host on the
// same LAN answers an ARP request or a neighbour solicitation in well under a
// millisecond; the margin is for a loaded host. Only a VIP that no member can
// hold yet is probed (see lanGuard), so a failover never waits for it.
const DefaultProbeWait = 50 * time.Millisecond

// LinkProber is the Prober and the Watcher on raw sockets. A probe opens its
// socket, asks and closes it again: probes are rare (a VIP's first bind, then
// with backoff while it is in use), and an idle ARP socket would queue every
// ARP frame of the LAN. A watch keeps its socket for as long as it runs.
// Both need CAP_NET_RAW in the namespace of the links; an ARP socket needs an
// IPv4 address on the link (the node's own). It is safe for concurrent use:
// probes on one link at once each read every frame on their own socket and
// count only an answer for their own address, and they never answer each
// other (a probe's sender is this link's MAC, its sender IP 0.0.0.0).
type LinkProber struct {
	wait  time.Duration
	iface func(name string) (*net.Interface, error)
}

var (
	_ Prober  = (*LinkProber)(nil)
	_ Watcher = (*LinkProber)(nil)
)

// NewProber returns a LinkProber whose probes wait up to wait (0:
// DefaultProbeWait). It opens nothing until used.
func NewProber(wait time.Duration) *LinkProber {
	if wait <= 0 {
		wait = DefaultProbeWait
	}
	return &LinkProber{wait: wait, iface: net.InterfaceByName}
}

func (p *LinkProber) ifi(link string) (*net.Interface, error) {
	ifi, err := p.iface(link)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoLink, link, err)
	}
	return ifi, nil
}

// Probe implements Prober: for IPv4 an ARP probe (RFC 5227 2.1.1: a request
// with sender IP 0.0.0.0 and target IP ip, so that no host's cache learns
// anything from it); any ARP packet from another MAC with sender IP ip in the
// wait means ip is in use. For IPv6 a neighbour solicitation for ip to its
// solicited-node multicast group; a neighbour advertisement for ip from
// another MAC means in use. (A raw socket cannot send from ::, as DAD does,
// so the solicitation comes from the link's own address; the holder then
// answers it directly rather than to all nodes.)
func (p *LinkProber) Probe(ctx context.Context, link string, ip netip.Addr) (net.HardwareAddr, error) {
	ifi, err := p.ifi(link)
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", ip, err)
	}
	var mac net.HardwareAddr
	if ip.Is4() {
		mac, err = p.probeARP(ctx, ifi, ip)
	} else {
		mac, err = p.probeNDP(ctx, ifi, ip)
	}
	if err != nil {
		return nil, fmt.Errorf("probe %s on %s: %w", ip, link, err)
	}
	return mac, nil
}

func (p *LinkProber) probeARP(ctx context.Context, ifi *net.Interface, ip netip.Addr) (net.HardwareAddr, error) {
	req, err := arpProbe(ifi.HardwareAddr, ip)
	if err != nil {
		return nil, err
	}
	c, err := openARP(ifi)
	if err != nil {
		return nil, fmt.Errorf("open ARP socket: %w", err)
	}
	defer c.Close()
	if err := c.SetDeadline(p.answerBy()); err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })()
	if err := c.WriteTo(req, ethernet.Broadcast); err != nil {
		return nil, fmt.Errorf("send ARP probe: %w", err)
	}
	for {
		pkt, _, err := c.Read()
		if err != nil {
			return nil, readEnd(ctx, err)
		}
		if s, ok := arpSighting(pkt, ifi.HardwareAddr); ok && s.IP == ip {
			return s.MAC, nil
		}
	}
}

func (p *LinkProber) probeNDP(ctx context.Context, ifi *net.Interface, ip netip.Addr) (net.HardwareAddr, error) {
	snm, err := ndp.SolicitedNodeMulticast(ip)
	if err != nil {
		return nil, err
	}
	c, err := listenNA(ifi)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.SetDeadline(p.answerBy()); err != nil {
		return nil, err
	}
	defer context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })()
	ns := &ndp.NeighborSolicitation{TargetAddress: ip,
		Options: []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Source, Addr: ifi.HardwareAddr}}}
	if err := c.WriteTo(ns, nil, snm); err != nil {
		return nil, fmt.Errorf("send neighbor solicitation: %w", err)
	}
	for {
		m, _, _, err := c.ReadFrom()
		if err != nil {
			return nil, readEnd(ctx, err)
		}
		if na, ok := m.(*ndp.NeighborAdvertisement); ok && na.TargetAddress == ip {
			mac := naMAC(na)
			if !bytes.Equal(mac, ifi.HardwareAddr) {
				// No target link-layer option: someone answers, who is unknown.
				return append(net.HardwareAddr{}, mac...), nil
			}
		}
	}
}

// answerBy returns the deadline of a probe whose socket is open: the wait is
// for the answer alone. Opening the socket reads every address of the node
// (arp.Dial, ndp.Listen), which with a thousand VIPs and 64 probes at once
// can take longer than the wait itself; counted in, it made the sending
// time out.
func (p *LinkProber) answerBy() time.Time {
	return time.Now().Add(p.wait)
}

// readEnd maps the error that ends a probe's reads: the deadline means no
// answer (nil), a cancelled ctx its error.
func readEnd(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}

// Watch implements Watcher.
func (p *LinkProber) Watch(ctx context.Context, link string, ip6 bool, seen func(Sighting)) error {
	ifi, err := p.ifi(link)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if ip6 {
		err = watchNDP(ctx, ifi, seen)
	} else {
		err = watchARP(ctx, ifi, seen)
	}
	if err != nil {
		return fmt.Errorf("watch %s: %w", link, err)
	}
	return nil
}

// watchARP reports every ARP packet on ifi from another MAC. A blocked read
// ends when ctx does: the deadline is moved into the past then.
func watchARP(ctx context.Context, ifi *net.Interface, seen func(Sighting)) error {
	c, err := openARP(ifi)
	if err != nil {
		return fmt.Errorf("open ARP socket: %w", err)
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })()
	for {
		pkt, _, err := c.Read()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if s, ok := arpSighting(pkt, ifi.HardwareAddr); ok {
			s.Link = ifi.Name
			seen(s)
		}
	}
}

// watchNDP reports every neighbour advertisement on ifi from another MAC.
func watchNDP(ctx context.Context, ifi *net.Interface, seen func(Sighting)) error {
	c, err := listenNA(ifi)
	if err != nil {
		return err
	}
	defer c.Close()
	defer context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })()
	for {
		m, _, _, err := c.ReadFrom()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok {
			continue
		}
		if mac := naMAC(na); mac != nil && !bytes.Equal(mac, ifi.HardwareAddr) {
			seen(Sighting{Link: ifi.Name, IP: na.TargetAddress, MAC: mac})
		}
	}
}

// listenNA opens an NDP socket on ifi that receives only neighbour
// advertisements: on the link-local address (which also receives what is
// sent to all nodes), or, while that is still tentative, on ::.
func listenNA(ifi *net.Interface) (*ndp.Conn, error) {
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err != nil {
		var errAny error
		if c, _, errAny = ndp.Listen(ifi, ndp.Unspecified); errAny != nil {
			return nil, fmt.Errorf("open NDP socket: %w", errors.Join(err, errAny))
		}
	}
	var f ipv6.ICMPFilter
	f.SetAll(true)
	f.Accept(ipv6.ICMPTypeNeighborAdvertisement)
	if err := c.SetICMPFilter(&f); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("filter NDP socket: %w", err)
	}
	return c, nil
}

// arpProbe returns the RFC 5227 probe for ip from hw: a request with sender IP
// 0.0.0.0, target MAC zero and target IP ip.
func arpProbe(hw net.HardwareAddr, ip netip.Addr) (*arp.Packet, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("ARP probe for %s: %w", ip, arp.ErrInvalidIP)
	}
	p, err := arp.NewPacket(arp.OperationRequest, hw, netip.IPv4Unspecified(), make(net.HardwareAddr, len(hw)), ip)
	if err != nil {
		return nil, fmt.Errorf("ARP probe for %s from %s: %w", ip, hw, err)
	}
	return p, nil
}

// arpSighting returns who speaks for which address in p: any request, reply
// or gratuitous ARP whose sender IP is set and whose sender MAC is not own.
// Probes (sender IP 0.0.0.0) claim nothing.
func arpSighting(p *arp.Packet, own net.HardwareAddr) (Sighting, bool) {
	if !p.SenderIP.Is4() || p.SenderIP.IsUnspecified() || bytes.Equal(p.SenderHardwareAddr, own) {
		return Sighting{}, false
	}
	return Sighting{IP: p.SenderIP, MAC: append(net.HardwareAddr{}, p.SenderHardwareAddr...)}, true
}

// naMAC returns the target link-layer address of na, or nil if it has none.
func naMAC(na *ndp.NeighborAdvertisement) net.HardwareAddr {
	for _, o := range na.Options {
		if l, ok := o.(*ndp.LinkLayerAddress); ok && l.Direction == ndp.Target {
			return l.Addr
		}
	}
	return nil
}
