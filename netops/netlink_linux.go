package netops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

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

	mu sync.Mutex
	// index is every link's index by name, as the last Addrs read them (or
	// a lookup since): Bind, Renew and Unbind act on the reading, and a
	// lookup per call was a sixth of the time of binding 1024 VIPs. A link
	// renamed since is acted on under its old name until the next reading,
	// as the rest of a pass acts on that reading.
	index map[string]int
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
		route: map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}, index: map[string]int{}}, nil
}

// Close releases the sockets.
func (n *Netlink) Close() {
	n.h.Close()
	for _, sh := range n.route {
		sh.Close()
	}
}

// Addrs returns the addresses of every link, IPv4 and IPv6, with their labels
// and raftvip's mark: one dump of the links and one of the addresses,
// whatever the number of VIPs.
func (n *Netlink) Addrs(_ context.Context) (Links, error) {
	ls, err := n.h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("list links: %w", err)
	}
	// An interrupted link dump may miss a link that changed meanwhile: its
	// addresses are then left out of this reading, as if it had come a
	// moment later, and the next pass sees it.
	names := make(map[int]string, len(ls))
	index := make(map[string]int, len(ls))
	out := make(Links, len(ls))
	for _, l := range ls {
		names[l.Attrs().Index] = l.Attrs().Name
		index[l.Attrs().Name] = l.Attrs().Index
		out[l.Attrs().Name] = nil
	}
	n.mu.Lock()
	n.index = index
	n.mu.Unlock()
	kas, err := n.dump(0, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	for _, ka := range kas {
		name, known := names[ka.LinkIndex]
		if f, ok := ka.found(); ok && known {
			out[name] = append(out[name], f)
		}
	}
	return out, nil
}

// list returns the addresses of the link with index idx.
func (n *Netlink) list(idx int) ([]Found, error) {
	kas, err := n.dump(idx, netlink.FAMILY_ALL)
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

// Bind adds a to link, valid for validFor (whole seconds, the kernel's
// granularity) and deprecated at once (preferred_lft 0), so that the VIP is
// not picked as the source of the node's own connections. The address carries
// Mark. It is added exclusively: if the kernel already has it, Bind reads the
// link (only then) and renews an address of raftvip's, but leaves one without
// the mark untouched: replacing it would mark it as raftvip's and give it a
// lifetime, and the kernel would delete it when that ran out.
func (n *Netlink) Bind(_ context.Context, link string, a Addr, validFor time.Duration) error {
	secs, err := lifetime(a, validFor)
	if err != nil {
		return fmt.Errorf("bind %s on %s: %w", a.Prefix, link, err)
	}
	err = n.onLink(link, func(idx int) error {
		err := n.newMarked(idx, a, secs, unix.NLM_F_EXCL)
		if !errors.Is(err, unix.EEXIST) {
			return err
		}
		// IPv4 refuses the same address and prefix length, IPv6 the same
		// address with any: look for either.
		fs, err := n.list(idx)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(fs, func(f Found) bool { return f.Prefix.Addr() == a.Prefix.Addr() && !f.Ours }); i >= 0 {
			return foreignError(fs[i].Prefix, link)
		}
		return n.newMarked(idx, a, secs, unix.NLM_F_REPLACE)
	})
	if err != nil {
		return fmt.Errorf("bind %s on %s: %w", a.Prefix, link, err)
	}
	return nil
}

// Renew replaces a on link, which the caller found there with the mark, with
// a fresh lifetime of validFor, without reading the link first: that read is
// what made a pass cost the square of the VIP count.
func (n *Netlink) Renew(_ context.Context, link string, a Addr, validFor time.Duration) error {
	secs, err := lifetime(a, validFor)
	if err == nil {
		err = n.onLink(link, func(idx int) error { return n.newMarked(idx, a, secs, unix.NLM_F_REPLACE) })
	}
	if err != nil {
		return fmt.Errorf("renew %s on %s: %w", a.Prefix, link, err)
	}
	return nil
}

// lifetime returns validFor in whole seconds, and checks a's label.
func lifetime(a Addr, validFor time.Duration) (int, error) {
	secs := int(validFor / time.Second)
	if secs < 1 {
		return 0, fmt.Errorf("lifetime %s is under the kernel's 1s granularity", validFor)
	}
	if len(a.Label) > maxLabel {
		return 0, fmt.Errorf("label %q is longer than %d characters", a.Label, maxLabel)
	}
	return secs, nil
}

// Unbind removes f from link if it carries the mark or is Legacy, as the
// caller found it. An address already gone is not an error; one without the
// mark is left in place. For IPv4 the kernel matches f's label too, so that
// an address put in the place of f since it was read, without that label, is
// not removed.
func (n *Netlink) Unbind(_ context.Context, link string, f Found) error {
	if !f.Ours && !f.Legacy {
		return fmt.Errorf("unbind %s: %w", f.Prefix, foreignError(f.Prefix, link))
	}
	err := n.onLink(link, func(idx int) error { return n.delAddr(idx, f.Addr) })
	if err == nil || errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	return fmt.Errorf("unbind %s on %s: %w", f.Prefix, link, err)
}

// onLink runs op with the index of the link called name. An index Addrs
// read may be stale by the time op runs: if the kernel no longer has it
// (ENODEV: the link was deleted, perhaps made again under a new index), the
// name is looked up afresh and op runs again. A missing link is ErrNoLink.
func (n *Netlink) onLink(name string, op func(idx int) error) error {
	n.mu.Lock()
	idx, known := n.index[name]
	n.mu.Unlock()
	if known {
		err := op(idx)
		if !errors.Is(err, unix.ENODEV) {
			return err
		}
	}
	idx, err := n.lookUp(name)
	if err != nil {
		return err
	}
	return op(idx)
}

// lookUp asks the kernel for the index of the link called name, and
// remembers it.
func (n *Netlink) lookUp(name string) (int, error) {
	l, err := n.h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		n.mu.Lock()
		delete(n.index, name)
		n.mu.Unlock()
		return 0, fmt.Errorf("%w: %s", ErrNoLink, name)
	}
	if err != nil {
		return 0, fmt.Errorf("look up link %s: %w", name, err)
	}
	n.mu.Lock()
	n.index[name] = l.Attrs().Index
	n.mu.Unlock()
	return l.Attrs().Index, nil
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
