package lab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// handles keeps one rtnetlink handle per namespace. A handle opened with
// netlink.NewHandleAt keeps its socket in that namespace, so reading state
// every 10 ms needs no thread switching. Requests on one handle are
// serialised by netlink itself.
type handles struct {
	use sync.RWMutex // read-held during a request, write-held by close
	mu  sync.Mutex   // guards by
	by  map[string]*netlink.Handle
}

func newHandles() *handles { return &handles{by: map[string]*netlink.Handle{}} }

// do runs f with the handle of namespace ns, opening it on first use.
func (h *handles) do(ns string, f func(*netlink.Handle) error) error {
	h.use.RLock()
	defer h.use.RUnlock()
	nh, err := h.get(ns)
	if err != nil {
		return err
	}
	return f(nh)
}

func (h *handles) get(ns string) (*netlink.Handle, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.by == nil {
		return nil, ErrClosed
	}
	if nh, ok := h.by[ns]; ok {
		return nh, nil
	}
	fd, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer fd.Close()
	nh, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	h.by[ns] = nh
	return nh, nil
}

func (h *handles) close() {
	h.use.Lock()
	defer h.use.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, nh := range h.by {
		nh.Close()
	}
	h.by = nil
}

func (h *handles) linkMAC(ns, name string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := h.do(ns, func(nh *netlink.Handle) error {
		link, err := nh.LinkByName(name)
		if err != nil {
			return fmt.Errorf("link %s in %s: %w", name, ns, err)
		}
		mac = link.Attrs().HardwareAddr
		return nil
	})
	return mac, err
}

// dumpRetries bounds retries of a netlink dump the kernel reports as
// interrupted (netlink >= v1.3.0 returns ErrDumpInterrupted with possibly
// inconsistent data; docs/design.md, "Netlink").
const dumpRetries = 5

func retryDump[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		if v, err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

// HoldersOf returns the nodes (1-based, ascending) that have vip configured on
// any interface right now.
func (l *Lab) HoldersOf(vip netip.Addr) ([]int, error) {
	l.mu.Lock()
	nodes := append([]node(nil), l.nodes...)
	l.mu.Unlock()
	var out []int
	for i, n := range nodes {
		has, err := l.hasAddr(n.ns, vip)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		if has {
			out = append(out, i+1)
		}
	}
	return out, nil
}

// Addrs returns the addresses configured on every interface of node i, both
// families, in the kernel's order: a soak samples every VIP of a node with
// one netlink dump.
func (l *Lab) Addrs(i int) ([]netip.Addr, error) {
	var out []netip.Addr
	err := l.nl.do(l.NodeNS(i), func(nh *netlink.Handle) error {
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return nh.AddrList(nil, netlink.FAMILY_ALL) })
		if err != nil {
			return fmt.Errorf("n%d: list addresses: %w", i, err)
		}
		for _, a := range addrs {
			if ip, ok := netip.AddrFromSlice(a.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
		return nil
	})
	return out, err
}

func (l *Lab) hasAddr(ns string, ip netip.Addr) (bool, error) {
	var has bool
	err := l.nl.do(ns, func(nh *netlink.Handle) error {
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return nh.AddrList(nil, family(ip)) })
		if err != nil {
			return fmt.Errorf("list addresses: %w", err)
		}
		for _, a := range addrs {
			if got, ok := netip.AddrFromSlice(a.IP); ok && got.Unmap() == ip {
				has = true
			}
		}
		return nil
	})
	return has, err
}

// ClientNeigh returns the client's own neighbour entry for vip on eth0: the
// MAC it would send to and the NUD state ("REACHABLE", "STALE", ...). With no
// entry, mac is nil and state is "".
func (l *Lab) ClientNeigh(vip netip.Addr) (net.HardwareAddr, string, error) {
	var mac net.HardwareAddr
	var state string
	err := l.nl.do(l.ClientNS(), func(nh *netlink.Handle) error {
		link, err := nh.LinkByName(Link)
		if err != nil {
			return fmt.Errorf("client %s: %w", Link, err)
		}
		neighs, err := retryDump(func() ([]netlink.Neigh, error) {
			return nh.NeighList(link.Attrs().Index, family(vip))
		})
		if err != nil {
			return fmt.Errorf("client neighbours: %w", err)
		}
		for _, n := range neighs {
			if got, ok := netip.AddrFromSlice(n.IP); ok && got.Unmap() == vip {
				mac, state = n.HardwareAddr, nudState(n.State)
			}
		}
		return nil
	})
	return mac, state, err
}

func family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// nudState names a neighbour state the way `ip neigh` does.
func nudState(s int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"},
		{netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"},
		{netlink.NUD_DELAY, "DELAY"},
		{netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"},
		{netlink.NUD_NOARP, "NOARP"},
		{netlink.NUD_PERMANENT, "PERMANENT"},
	}
	for _, n := range names {
		if s&n.bit != 0 {
			return n.name
		}
	}
	return "NONE"
}
