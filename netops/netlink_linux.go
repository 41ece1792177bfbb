package netops

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// dumpRetries bounds the retries of an interrupted netlink dump. Since netlink
// v1.2.1 an address change during a dump is reported, and an AddrReplace
// followed by AddrList triggers it on its own (vishvananda/netlink#1163,
// moby/moby#48598, slackhq/nebula#1835); a retry normally succeeds at once.
const dumpRetries = 5

// Netlink is the Binder on a netlink handle.
//
// Netlink requests cannot be cancelled and take microseconds, so the contexts
// of its methods are not consulted.
type Netlink struct {
	h   *netlink.Handle
	log *slog.Logger
	// route is a NETLINK_ROUTE socket of our own in h's namespace, for the
	// requests h cannot build: netlink.Handle keeps its sockets private and
	// sends only requests it built itself, while Bind must set IFA_PROTO and
	// List must read it (addrmsg_linux.go).
	route map[int]*nl.SocketHandle
}

var _ Binder = (*Netlink)(nil)

// OpenNetlink returns a Binder on the network namespace ns: netns.None() for
// the daemon's own namespace, a test's namespace otherwise. Close releases its
// sockets.
func OpenNetlink(ns netns.NsHandle, log *slog.Logger) (*Netlink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink route socket: %w", err)
	}
	return &Netlink{h: h, log: log.With("component", "netlink"),
		route: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}}, nil
}

// Close releases the sockets.
func (n *Netlink) Close() {
	n.h.Close()
	for _, sh := range n.route {
		sh.Close()
	}
}

// List returns the addresses of link, IPv4 and IPv6, with their labels and
// raftvip's mark.
func (n *Netlink) List(_ context.Context, link string) ([]Found, error) {
	l, err := n.link(link)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	fs, err := n.list(l)
	if err != nil {
		return nil, fmt.Errorf("list addresses on %s: %w", link, err)
	}
	return fs, nil
}

func (n *Netlink) list(l netlink.Link) ([]Found, error) {
	kas, err := n.dump(l.Attrs().Index, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	out := make([]Found, 0, len(kas))
	for _, ka := range kas {
		if f, ok := ka.found(); ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// Bind adds a to link, or replaces it, valid for validFor (whole seconds, the
// kernel's granularity) and deprecated at once (preferred_lft 0), so that the
// VIP is not picked as the source of the node's own connections. The address
// carries Mark. An address of the link with a's IP and without the mark is
// not touched: replacing it would mark it as raftvip's and give it a lifetime,
// and the kernel would delete it when that ran out.
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
	fs, err := n.list(l)
	if err != nil {
		return fmt.Errorf("bind %s on %s: %w", a.Prefix, link, err)
	}
	if i := slices.IndexFunc(fs, func(f Found) bool { return f.Prefix.Addr() == a.Prefix.Addr() && !f.Ours }); i >= 0 {
		return fmt.Errorf("bind %s: %w", a.Prefix, foreignError(fs[i].Prefix, link))
	}
	var flags uint8
	if !a.Prefix.Addr().Is4() {
		a.Label = ""
		// Without NODAD the address is tentative for 1-2 s (binding to it fails)
		// and ends up dadfailed if the old owner still holds it (docs/design.md,
		// "IPv6 neighbour advertisements").
		flags = unix.IFA_F_NODAD
	}
	// Replace, not add: adding an existing address fails with EEXIST, and
	// replacing is how the lifetime is renewed.
	if err := n.replaceMarked(l.Attrs().Index, a, flags, secs); err != nil {
		return fmt.Errorf("bind %s on %s: %w", a.Prefix, link, err)
	}
	return nil
}

// Unbind removes p from link if it carries the mark or is Legacy. An address
// already gone is not an error; one without the mark is left in place.
func (n *Netlink) Unbind(_ context.Context, link string, p netip.Prefix) error {
	l, err := n.link(link)
	if err != nil {
		return fmt.Errorf("unbind %s: %w", p, err)
	}
	fs, err := n.list(l)
	if err != nil {
		return fmt.Errorf("unbind %s on %s: %w", p, link, err)
	}
	i := slices.IndexFunc(fs, func(f Found) bool { return f.Prefix == p })
	switch {
	case i < 0:
		return nil
	case !fs[i].Ours && !fs[i].Legacy:
		return fmt.Errorf("unbind %s: %w", p, foreignError(p, link))
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
	kas, err := n.dump(0, family)
	if err != nil {
		return "", fmt.Errorf("find link for %s: %w", ip, err)
	}
	nas := make([]netlink.Addr, len(kas))
	for i, ka := range kas {
		nas[i] = ka.Addr
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
