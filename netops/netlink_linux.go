package netops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// dumpRetries bounds the retries of an interrupted netlink dump. Since netlink
// v1.2.1 an address change during a dump is reported, and an AddrReplace
// followed by AddrList triggers it on its own (vishvananda/netlink#1163,
// moby/moby#48598, slackhq/nebula#1835); a retry normally succeeds at once.
const dumpRetries = 5

// Netlink is the LabelBinder on a netlink handle.
//
// Netlink requests cannot be cancelled and take microseconds, so the contexts
// of its methods are not consulted.
type Netlink struct {
	h   *netlink.Handle
	log *slog.Logger
}

var _ LabelBinder = (*Netlink)(nil)

// NewNetlink returns a Binder on h: netlink.NewHandle() in production,
// netlink.NewHandleAt(ns) in tests. A nil h opens a socket per request in the
// calling thread's namespace.
func NewNetlink(h *netlink.Handle, log *slog.Logger) *Netlink {
	if h == nil {
		h = &netlink.Handle{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Netlink{h: h, log: log.With("component", "netlink")}
}

// List returns the addresses of link, IPv4 and IPv6.
func (n *Netlink) List(ctx context.Context, link string) ([]netip.Prefix, error) {
	as, err := n.Addrs(ctx, link)
	if err != nil {
		return nil, err
	}
	ps := make([]netip.Prefix, len(as))
	for i, a := range as {
		ps[i] = a.Prefix
	}
	return ps, nil
}

// Addrs returns the addresses of link with their labels.
func (n *Netlink) Addrs(_ context.Context, link string) ([]Addr, error) {
	l, err := n.link(link)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	nas, err := n.addrList(l, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses on %s: %w", link, err)
	}
	out := make([]Addr, 0, len(nas))
	for _, na := range nas {
		if p, ok := prefixOf(na.IPNet); ok {
			out = append(out, Addr{Prefix: p, Label: na.Label})
		}
	}
	return out, nil
}

// Bind adds a to link, or replaces it, valid for validFor (whole seconds, the
// kernel's granularity) and deprecated at once (preferred_lft 0), so that the
// VIP is not picked as the source of the node's own connections.
func (n *Netlink) Bind(_ context.Context, link string, a Addr, validFor time.Duration) error {
	secs := int(validFor / time.Second)
	if secs < 1 {
		return fmt.Errorf("bind %s on %s: lifetime %s is under the kernel's 1s granularity", a.Prefix, link, validFor)
	}
	if len(a.Label) > maxLabel {
		return fmt.Errorf("bind %s on %s: label %q is longer than %d characters", a.Prefix, link, a.Label, maxLabel)
	}
	l, err := n.link(link)
	if err != nil {
		return fmt.Errorf("bind %s: %w", a.Prefix, err)
	}
	na := &netlink.Addr{IPNet: ipNet(a.Prefix), ValidLft: secs, PreferedLft: 0}
	if a.Prefix.Addr().Is4() {
		na.Label = a.Label
	} else {
		// Without NODAD the address is tentative for 1-2 s (binding to it fails)
		// and ends up dadfailed if the old owner still holds it (docs/design.md,
		// "IPv6 neighbour advertisements").
		na.Flags = unix.IFA_F_NODAD
	}
	// AddrReplace, not AddrAdd: adding an existing address fails with EEXIST,
	// and replacing is how the lifetime is renewed.
	if err := n.h.AddrReplace(l, na); err != nil {
		return fmt.Errorf("bind %s on %s: %w", a.Prefix, link, err)
	}
	return nil
}

// Unbind removes p from link. An address already gone is not an error.
func (n *Netlink) Unbind(_ context.Context, link string, p netip.Prefix) error {
	l, err := n.link(link)
	if err != nil {
		return fmt.Errorf("unbind %s: %w", p, err)
	}
	err = n.h.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)})
	if err == nil || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("unbind %s on %s: %w", p, link, err)
}

// LinkFor returns the link with the most specific configured subnet that
// contains ip. VIPs are ignored: they are recognised by being deprecated
// (Bind sets preferred_lft 0), by a VIP label, or by being ip itself.
func (n *Netlink) LinkFor(_ context.Context, ip netip.Addr) (string, error) {
	family := netlink.FAMILY_V6
	if ip.Is4() {
		family = netlink.FAMILY_V4
	}
	nas, err := n.addrList(nil, family)
	if err != nil {
		return "", fmt.Errorf("find link for %s: %w", ip, err)
	}
	idx, ok := pickLink(nas, ip)
	if !ok {
		return "", fmt.Errorf("%w: no subnet on any link contains %s", ErrNoLink, ip)
	}
	l, err := n.h.LinkByIndex(idx)
	if err != nil {
		return "", fmt.Errorf("find link for %s: link %d: %w", ip, idx, err)
	}
	return l.Attrs().Name, nil
}

// pickLink returns the index of the link whose non-VIP address has the longest
// prefix containing ip; ties go to the lowest index, for a stable answer.
func pickLink(nas []netlink.Addr, ip netip.Addr) (int, bool) {
	var best *netlink.Addr
	for i, na := range nas {
		p, ok := prefixOf(na.IPNet)
		if !ok || p.Addr() == ip || p.IsSingleIP() || !p.Contains(ip) ||
			na.Flags&unix.IFA_F_DEPRECATED != 0 || strings.HasSuffix(na.Label, ":"+fsm.DefaultLabel) {
			continue
		}
		if best == nil || cmp.Or(cmp.Compare(bits(*best), p.Bits()), cmp.Compare(na.LinkIndex, best.LinkIndex)) < 0 {
			best = &nas[i]
		}
	}
	if best == nil {
		return 0, false
	}
	return best.LinkIndex, true
}

func bits(na netlink.Addr) int {
	ones, _ := na.Mask.Size()
	return ones
}

// link looks a link up by name; a missing one is ErrNoLink.
func (n *Netlink) link(name string) (netlink.Link, error) {
	l, err := n.h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%w: %s", ErrNoLink, name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up link %s: %w", name, err)
	}
	return l, nil
}

// addrList is AddrList retried while the dump is interrupted: the data of an
// interrupted dump may be inconsistent, so it is never used.
func (n *Netlink) addrList(l netlink.Link, family int) ([]netlink.Addr, error) {
	var nas []netlink.Addr
	var err error
	for range dumpRetries {
		if nas, err = n.h.AddrList(l, family); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return nas, err
		}
		n.log.Debug("address dump interrupted, retrying")
	}
	return nil, err
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, total := n.Mask.Size()
	if total != a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}
