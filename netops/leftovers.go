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
// election (docs/design.md, "Leftovers at start"). On each of links, and on
// each VIP's own interface, it removes every address of vips and every IPv4
// address carrying a label this package sets ("<link>:vip" or a VIP's label).
// Missing links are skipped. It returns what it removed and the errors joined.
func RemoveLeftovers(ctx context.Context, b LabelBinder, links []string, vips []fsm.VIP, log *slog.Logger) ([]netip.Prefix, error) {
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
	var removed []netip.Prefix
	var errs []error
	for _, link := range slices.Compact(all) {
		addrs, err := b.Addrs(ctx, link)
		if errors.Is(err, ErrNoLink) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, a := range addrs {
			if !isLeftover(link, a, vips) {
				continue
			}
			if err := b.Unbind(ctx, link, a.Prefix); err != nil {
				errs = append(errs, err)
				continue
			}
			log.Info("removed leftover VIP", "vip", a.Prefix, "link", link, "label", a.Label)
			removed = append(removed, a.Prefix)
		}
	}
	return removed, errors.Join(errs...)
}

// isLeftover reports whether a, found on link, is a VIP this package may have
// bound. Addresses match by address, whatever their prefix length.
func isLeftover(link string, a Addr, vips []fsm.VIP) bool {
	if slices.ContainsFunc(vips, func(v fsm.VIP) bool { return v.Prefix.Addr() == a.Prefix.Addr() }) {
		return true
	}
	return a.Prefix.Addr().Is4() && isVIPLabel(link, a.Label, vips)
}
