package netops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// frameWriter sends one ARP packet in an Ethernet frame to a MAC address.
// *arp.Client implements it; tests fake it.
type frameWriter interface {
	WriteTo(p *arp.Packet, to net.HardwareAddr) error
}

type arpConn interface {
	frameWriter
	Close() error
}

// LinkAnnouncer is the Announcer on raw sockets: gratuitous ARP through one
// *arp.Client per link and unsolicited NA through one *ndp.Conn per link, each
// opened on the first announcement and closed by Release or Close. Opening
// them needs CAP_NET_RAW, in the namespace of the links. It is safe for
// concurrent use.
type LinkAnnouncer struct {
	log     *slog.Logger
	iface   func(name string) (*net.Interface, error)
	dialARP func(ifi *net.Interface) (arpConn, error)
	dialNDP func(ifi *net.Interface, vip netip.Addr) (ndpConn, error)

	mu    sync.Mutex
	links map[string]*linkConns
}

// linkConns are the sockets open on one link.
type linkConns struct {
	ifi *net.Interface
	arp arpConn
	ndp ndpConn
}

var _ Announcer = (*LinkAnnouncer)(nil)

// NewAnnouncer returns a LinkAnnouncer. It opens nothing until Announce.
func NewAnnouncer(log *slog.Logger) *LinkAnnouncer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &LinkAnnouncer{
		log:     log.With("component", "announcer"),
		iface:   net.InterfaceByName,
		dialARP: dialARP,
		dialNDP: dialNDP,
		links:   map[string]*linkConns{},
	}
}

// Announce sends one gratuitous ARP (IPv4: a request and a reply) or one
// unsolicited neighbour advertisement (IPv6) for ip from link's MAC. After a
// failed send the link's sockets are closed, so that the next call opens them
// afresh (the link may have been recreated with another index).
func (a *LinkAnnouncer) Announce(_ context.Context, link string, ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	lc, err := a.conns(link)
	if err != nil {
		return fmt.Errorf("announce %s: %w", ip, err)
	}
	if ip.Is4() {
		err = a.garp(lc, ip)
	} else {
		err = a.una(lc, ip)
	}
	if err != nil {
		err = errors.Join(err, a.closeLink(link))
		return fmt.Errorf("announce %s on %s: %w", ip, link, err)
	}
	return nil
}

// Release closes the sockets open on link, if any.
func (a *LinkAnnouncer) Release(link string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closeLink(link)
}

// Close closes the sockets of every link.
func (a *LinkAnnouncer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for link := range a.links {
		errs = append(errs, a.closeLink(link))
	}
	return errors.Join(errs...)
}

func (a *LinkAnnouncer) conns(link string) (*linkConns, error) {
	if lc := a.links[link]; lc != nil {
		return lc, nil
	}
	ifi, err := a.iface(link)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoLink, link, err)
	}
	lc := &linkConns{ifi: ifi}
	a.links[link] = lc
	return lc, nil
}

func (a *LinkAnnouncer) closeLink(link string) error {
	lc := a.links[link]
	if lc == nil {
		return nil
	}
	delete(a.links, link)
	var errs []error
	if lc.arp != nil {
		errs = append(errs, lc.arp.Close())
	}
	if lc.ndp != nil {
		errs = append(errs, lc.ndp.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sockets on %s: %w", link, err)
	}
	return nil
}

func (a *LinkAnnouncer) garp(lc *linkConns, ip netip.Addr) error {
	pkts, err := garpPackets(lc.ifi.HardwareAddr, ip)
	if err != nil {
		return err
	}
	if lc.arp == nil {
		if lc.arp, err = a.dialARP(lc.ifi); err != nil {
			return fmt.Errorf("open ARP socket: %w", err)
		}
	}
	for _, p := range pkts {
		if err := lc.arp.WriteTo(p, ethernet.Broadcast); err != nil {
			return fmt.Errorf("send %s: %w", p.Operation, err)
		}
	}
	return nil
}

// garpPackets returns the two gratuitous ARP packets for vip from hw, both to
// be sent to the Ethernet broadcast address: a request and a reply, each with
// sender IP = target IP = vip. The request's target MAC is zero; the reply's is
// hw itself. Linux updates an existing entry at once on either (measured,
// docs/design.md, "Gratuitous ARP") but ignores a reply whose target MAC is
// broadcast for 1 s after
// the entry changed (locktime): a client then stayed on the old host for 32 s.
// Never send that form.
func garpPackets(hw net.HardwareAddr, vip netip.Addr) ([]*arp.Packet, error) {
	if !vip.Is4() {
		return nil, fmt.Errorf("gratuitous ARP for %s: %w", vip, arp.ErrInvalidIP)
	}
	req, err := arp.NewPacket(arp.OperationRequest, hw, vip, make(net.HardwareAddr, len(hw)), vip)
	if err != nil {
		return nil, fmt.Errorf("gratuitous ARP request for %s from %s: %w", vip, hw, err)
	}
	rep, err := arp.NewPacket(arp.OperationReply, hw, vip, hw, vip)
	if err != nil {
		return nil, fmt.Errorf("gratuitous ARP reply for %s from %s: %w", vip, hw, err)
	}
	return []*arp.Packet{req, rep}, nil
}

// dialARP opens an ARP client on ifi. arp.Dial needs an IPv4 address on the
// link, which the reconciler has just bound; it is checked here first because
// arp.Dial (mdlayher/arp 6706a29) leaks its packet socket when the link has none.
func dialARP(ifi *net.Interface) (arpConn, error) {
	c, err := openARP(ifi)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// openARP is dialARP's *arp.Client, for readers too (the Prober).
func openARP(ifi *net.Interface) (*arp.Client, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
	}
	if !hasIPv4(addrs) {
		return nil, fmt.Errorf("%w: %s", ErrNoIPv4, ifi.Name)
	}
	return arp.Dial(ifi)
}

func hasIPv4(addrs []net.Addr) bool {
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return true
		}
	}
	return false
}
