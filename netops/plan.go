package netops

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/raftvip/raftvip/fsm"
)

// Desired returns the VIPs node me must hold under v: all of them when its claim
// is committed in the current term and it is still leader, otherwise none. It
// is the only place that decides ownership, so a follower, a leader whose claim
// has not committed yet, and a deposed leader all come out empty.
func Desired(v View, me string) []fsm.VIP {
	if !v.State.HeldBy(me, v.Leader, v.Term) {
		return nil
	}
	return slices.Clone(v.State.VIPs)
}

// Binding is one address on one link.
type Binding struct {
	Link   string
	Prefix netip.Prefix
}

// Plan is what one reconcile pass must do, in this order: Unbind first, so that
// an address moving to another link or prefix length is never configured twice,
// then Bind what is missing, then consider Keep for a lifetime refresh.
type Plan struct {
	// Unbind holds managed addresses observed where they are not desired.
	Unbind []Binding
	// Bind holds desired VIPs not observed on their link with their prefix.
	Bind []ResolvedVIP
	// Keep holds desired VIPs already observed as wanted.
	Keep []ResolvedVIP
}

// Diff compares the desired VIPs with the addresses observed per link and
// returns what to change. Only managed addresses (and desired ones) are ever
// unbound, so the node's own addresses survive whatever is observed. Addresses
// are matched by address, not prefix: a managed address observed with another
// prefix length, or on another link, than desired is unbound and bound again.
// A link missing from observed counts as having no addresses.
func Diff(desired []ResolvedVIP, observed map[string][]netip.Prefix, managed ...netip.Addr) Plan {
	want := make(map[netip.Addr]ResolvedVIP, len(desired))
	isManaged := make(map[netip.Addr]bool, len(managed)+len(desired))
	for _, d := range desired {
		want[d.VIP.Prefix.Addr()] = d
		isManaged[d.VIP.Prefix.Addr()] = true
	}
	for _, a := range managed {
		isManaged[a] = true
	}
	var p Plan
	for link, ps := range observed {
		for _, o := range ps {
			if !isManaged[o.Addr()] {
				continue
			}
			if d, ok := want[o.Addr()]; ok && d.Link == link && d.VIP.Prefix == o {
				continue
			}
			p.Unbind = append(p.Unbind, Binding{Link: link, Prefix: o})
		}
	}
	slices.SortFunc(p.Unbind, compareBindings)
	for _, d := range desired {
		if slices.Contains(observed[d.Link], d.VIP.Prefix) {
			p.Keep = append(p.Keep, d)
		} else {
			p.Bind = append(p.Bind, d)
		}
	}
	return p
}

func compareBindings(a, b Binding) int {
	return cmp.Or(cmp.Compare(a.Link, b.Link), a.Prefix.Addr().Compare(b.Prefix.Addr()),
		cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
}
