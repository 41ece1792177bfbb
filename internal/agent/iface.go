package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
)

// -interface is local to this node: it is applied here, where the node reads
// the replicated VIP set, rather than stored in it. This file is the one
// place that decides where a VIP without an interface of its own goes: the
// reconciler's view, the start-up check and the leftover removal (of the
// agent and of `raftvip release`) all go through it.

// checkLinks refuses an unknown -interface, and -vip values that no local
// interface could carry, before anything is started.
func checkLinks(ctx context.Context, b netops.Binder, iface string, seeds []fsm.VIP) error {
	ls, err := b.Addrs(ctx)
	if err != nil {
		return fmt.Errorf("check links: %w", err)
	}
	if iface != "" {
		if _, ok := ls[iface]; !ok {
			return fmt.Errorf("-interface %q: %w", iface, netops.ErrNoLink)
		}
		return nil
	}
	for _, v := range seeds {
		if _, err := ls.LinkFor(v.Prefix.Addr()); err != nil {
			return fmt.Errorf("-vip %s: %w; set -interface", v.Prefix, err)
		}
	}
	return nil
}

// localize pins VIPs without an interface of their own to this node's -interface.
func localize(vs []fsm.VIP, iface string) []fsm.VIP {
	if iface == "" {
		return vs
	}
	out := make([]fsm.VIP, len(vs))
	for i, v := range vs {
		if v.Interface == "" {
			v.Interface = iface
		}
		out[i] = v
	}
	return out
}

// RemoveLeftovers removes from this host what an agent that crashed or was
// killed may have left bound: the addresses of vips (what the data dir knows
// of and the configured seeds), pinned to iface (-interface) when they name
// no interface of their own, and any address carrying a VIP label, provided
// raftvip bound them (netops.RemoveLeftovers decides). The agent
// calls it at start, before it takes part in any election; `raftvip release`
// after the agent stopped. links lists the interfaces to look on: LinkNames,
// or a test's.
func RemoveLeftovers(ctx context.Context, b netops.Binder, links func() ([]string, error), vips []fsm.VIP, iface string,
	log *slog.Logger) ([]netip.Prefix, error) {
	names, err := links()
	if err != nil {
		return nil, err
	}
	return netops.RemoveLeftovers(ctx, b, names, localize(vips, iface), log)
}

// LinkNames lists every interface. An error is returned, not swallowed: with
// no links, RemoveLeftovers would check nothing and the start would go on as if
// the kernel held no leftover VIP.
func LinkNames() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(ifs))
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return names, nil
}
