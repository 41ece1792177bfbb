// Package netops is everything in raftvip that touches the kernel: interface
// addresses through netlink (with finite lifetimes), gratuitous ARP and
// unsolicited neighbour advertisements, and the Reconciler that makes the
// kernel match the replicated state.
//
// Kernel access sits behind two small interfaces, Binder and Announcer, so that
// the decision logic (Desired, Diff, the announcement schedule) is tested
// without root against the recording fake in netopstest.
package netops

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// Errors callers branch on with errors.Is.
var (
	// ErrNoLink reports a link name that does not exist, or an address that no
	// configured subnet on any link contains.
	ErrNoLink = errors.New("no such link")
	// ErrNoIPv4 reports a link without an IPv4 address, which gratuitous ARP needs.
	ErrNoIPv4 = errors.New("no IPv4 address on link")
	// ErrBadConfig reports an invalid Config passed to NewReconciler.
	ErrBadConfig = errors.New("invalid reconciler config")
	// ErrForeign reports an address that raftvip did not add (it lacks the
	// mark, see Found.Ours): Bind does not take it over and Unbind does not
	// delete it, whatever the caller asked.
	ErrForeign = errors.New("not added by raftvip")
)

// maxLabel is IFNAMSIZ-1: the kernel refuses longer IPv4 address labels.
const maxLabel = 15

// Binder is the reconciler's only access to interface addresses.
//
// raftvip marks every address it binds (netlink: the IFA_PROTO attribute) and
// deletes or renews only marked ones, so that a VIP equal to an address of the
// node's own (a mistake in the VIP set, or an address an operator added by
// hand) is never taken over, announced or deleted.
//
// Reading the kernel is one call for every link (Addrs), and Renew and Unbind
// act on what the caller read there rather than reading again: a reconcile
// pass over N VIPs then costs one dump and at most N changes, not a dump per
// VIP (docs/benchmarks.md, "Cluster size and many VIPs").
type Binder interface {
	// Addrs returns the addresses of every link, with their labels and
	// whether raftvip added them, read at once.
	Addrs(ctx context.Context) (Links, error)
	// Bind adds a to link, marked as raftvip's, with a valid lifetime of
	// validFor. It must be idempotent: if link has a.Prefix with the mark,
	// Bind renews it. If link has a.Prefix without the mark, it changes
	// nothing and returns an error wrapping ErrForeign. The kernel decides
	// whether a.Prefix is there as it adds, so an address that appeared
	// after the caller's Addrs is never taken over.
	Bind(ctx context.Context, link string, a Addr, validFor time.Duration) error
	// Renew sets the valid lifetime of a, which the caller's Addrs found on
	// link with the mark, to validFor (re-adding it if it went since).
	Renew(ctx context.Context, link string, a Addr, validFor time.Duration) error
	// Unbind removes f from link, f as the caller's Addrs found it there. An
	// address without the mark that is not Legacy is left in place and the
	// error wraps ErrForeign; an IPv4 address is removed only while it still
	// has f's label. An absent address is not an error.
	Unbind(ctx context.Context, link string, f Found) error
}

// Links is one reading of the kernel's addresses: every link by name, with
// its addresses (none for a link that has none).
type Links map[string][]Found

// List returns the addresses of link, read with b.Addrs; a link that does not
// exist is an error wrapping ErrNoLink.
func List(ctx context.Context, b Binder, link string) ([]Found, error) {
	ls, err := b.Addrs(ctx)
	if err != nil {
		return nil, err
	}
	fs, ok := ls[link]
	if !ok {
		return nil, fmt.Errorf("list addresses: %w: %s", ErrNoLink, link)
	}
	return fs, nil
}

// LinkFor returns the link with the most specific configured subnet that
// contains ip, ties going to the first link by name, for a stable answer. VIPs
// do not configure subnets: addresses raftvip added (or Legacy ones),
// deprecated ones (every VIP is bound with preferred_lft 0), those with a VIP
// label, host prefixes, and ip itself are passed over. It returns an error
// wrapping ErrNoLink if no link has such a subnet.
func (ls Links) LinkFor(ip netip.Addr) (string, error) {
	best, bestBits := "", -1
	for link, fs := range ls {
		for _, f := range fs {
			p := f.Prefix
			if f.Ours || f.Legacy || f.Deprecated || p.Addr() == ip || p.IsSingleIP() || !p.Contains(ip) ||
				strings.HasSuffix(f.Label, ":"+fsm.DefaultLabel) {
				continue
			}
			if p.Bits() > bestBits || p.Bits() == bestBits && link < best {
				best, bestBits = link, p.Bits()
			}
		}
	}
	if best == "" {
		return "", fmt.Errorf("%w: no subnet on any link contains %s", ErrNoLink, ip)
	}
	return best, nil
}

// Addr is an address as bound in the kernel.
type Addr struct {
	Prefix netip.Prefix
	// Label is the full kernel label for IPv4 ("eth0:vip"); empty for IPv6,
	// which has no labels.
	Label string
}

// Found is an address as List finds it on a link.
type Found struct {
	Addr
	// Ours reports that raftvip added the address: it carries raftvip's mark.
	Ours bool
	// Legacy reports an address without the mark that looks as versions of
	// raftvip from before the mark bound VIPs: a finite valid lifetime,
	// deprecated (preferred_lft 0) and, for IPv6, NODAD. An operator's static
	// address is valid forever, a DHCP client's IPv4 address is preferred as
	// long as it is valid, and SLAAC never sets NODAD, so none of them is ever
	// Legacy. Only RemoveLeftovers acts on it.
	Legacy bool
	// Deprecated reports an address whose preferred lifetime is over, as
	// every VIP's is: LinkFor passes it over.
	Deprecated bool
}

// Prefixes returns the prefixes of fs, in order.
func Prefixes(fs []Found) []netip.Prefix {
	out := make([]netip.Prefix, len(fs))
	for i, f := range fs {
		out[i] = f.Prefix
	}
	return out
}

// foreignError is the error of Bind and Unbind for an address without the
// mark; it reads "192.0.2.11/24 on eth0 was not added by raftvip: left in place".
func foreignError(p netip.Prefix, link string) error {
	return fmt.Errorf("%s on %s was %w: left in place", p, link, ErrForeign)
}

// Announcer tells the LAN that an address now answers at the MAC of a link:
// gratuitous ARP for IPv4, an unsolicited neighbour advertisement for IPv6.
type Announcer interface {
	Announce(ctx context.Context, link string, ip netip.Addr) error
	// Release closes what Announce opened for link, once nothing is held there.
	Release(link string) error
}

// View is what the reconciler reads from the cluster on every pass.
type View struct {
	State  fsm.State
	Leader bool
	Term   uint64
	// Why says why Leader is false, for the log line of a drop ("" if the
	// cluster does not say).
	Why string
	// Lapsed: Leader is false only because the cluster's quorum lease ran out
	// while Raft still leads in Term, so it may become true again in Term; the
	// notify hooks wait Config.NotifyGrace before reporting such a drop.
	Lapsed bool
}

// ResolvedVIP is a VIP together with the link it is bound on, on this node.
type ResolvedVIP struct {
	VIP  fsm.VIP
	Link string
}

// Addr returns the kernel form of v: its prefix and, for IPv4, its label.
func (v ResolvedVIP) Addr() Addr {
	return Addr{Prefix: v.VIP.Prefix, Label: labelFor(v.Link, v.VIP)}
}

// labelFor returns the IPv4 label "<link>:<label>" cut to what the kernel
// accepts, or "" for IPv6, where the kernel has no labels.
func labelFor(link string, v fsm.VIP) string {
	if !v.Prefix.Addr().Is4() {
		return ""
	}
	return vipLabel(link, v.Label)
}

func vipLabel(link, label string) string {
	if label == "" {
		label = fsm.DefaultLabel
	}
	l := link + ":" + label
	if len(l) > maxLabel {
		l = l[:maxLabel]
	}
	return l
}

// isVIPLabel reports whether an IPv4 label on link is one this package sets for
// any of vips (or the default), so that leftovers are found even when the VIP
// set that bound them is unknown.
func isVIPLabel(link, label string, vips []fsm.VIP) bool {
	if label == "" {
		return false
	}
	if label == vipLabel(link, "") {
		return true
	}
	for _, v := range vips {
		if v.Label != "" && label == vipLabel(link, v.Label) {
			return true
		}
	}
	return false
}
