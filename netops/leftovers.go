package netops

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"

	"github.com/raftvip/raftvip/fsm"
)

// RemoveLeftovers removes VIPs that an earlier run (crashed, killed, or an
// older configuration) left in the kernel, before this node takes part in an
// election (docs/design.md, "Leftovers at start"). On each of links, and on each VIP's own interface, it removes
// the addresses that isLeftover picks; an address equal to a VIP that raftvip
// did not add is left in place and logged. Missing links are skipped. It
// returns what it removed and the errors joined.
func RemoveLeftovers(ctx context.Context, b Binder, links []string, vips []fsm.VIP, log *slog.Logger) ([]netip.Prefix, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	all := slices.Clone(links)
	for _, v := range vips {
		if v.Interface != "" {
			all = append(all, v.Interface)
		}
	}
	slices.Sort(all)
	ls, err := b.Addrs(ctx)
	if err != nil {
		return nil, err
	}
	var removed []netip.Prefix
	var errs []error
	for _, link := range slices.Compact(all) {
		for _, f := range ls[link] {
			switch leftover(link, f, vips) {
			case notVIP:
				continue
			case foreign:
				log.Warn("address was not added by raftvip: left in place", "addr", f.Prefix, "link", link)
				continue
			}
			if err := b.Unbind(ctx, link, f); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Info("removed leftover VIP", "vip", f.Prefix, "link", link, "label", f.Label, "legacy", f.Legacy)
			removed = append(removed, f.Prefix)
		}
	}
	return removed, errors.Join(errs...)
}

// verdict is what RemoveLeftovers does with an address.
type verdict int

const (
	notVIP  verdict = iota // nothing to do with raftvip: skipped silently
	foreign                // equal to a VIP, but not raftvip's: kept and logged
	remove                 // a leftover: removed
)

// leftover decides about f, found on link. A marked address is raftvip's: it
// is removed if its address is one of vips, whatever its prefix length, or if
// it carries a VIP label (IPv4), which finds VIPs that the current VIP set no
// longer lists.
//
// Versions before the mark bound VIPs unmarked, so an upgraded node may find
// one of theirs. Such an address is removed only if it is Legacy (bound as
// every version bound VIPs: finite valid_lft, deprecated, NODAD for IPv6) and
// equals a VIP exactly, prefix length included. An operator's static address
// is valid forever, so it is never removed, even when a VIP equals it; nor is
// one from DHCP or SLAAC (see Found.Legacy). Anything else that old versions
// left expires within its lease.
func leftover(link string, f Found, vips []fsm.VIP) verdict {
	sameAddr := slices.ContainsFunc(vips, func(v fsm.VIP) bool { return v.Prefix.Addr() == f.Prefix.Addr() })
	switch {
	case f.Ours && (sameAddr || f.Prefix.Addr().Is4() && isVIPLabel(link, f.Label, vips)):
		return remove
	case f.Ours || !sameAddr:
		return notVIP
	case f.Legacy && slices.ContainsFunc(vips, func(v fsm.VIP) bool { return v.Prefix == f.Prefix }):
		return remove
	}
	return foreign
}
