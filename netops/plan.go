package netops

import (
	"cmp"
	"maps"
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
	// Unbind holds managed addresses raftvip bound that are observed where
	// they are not desired.
	Unbind []Binding
	// Bind holds desired VIPs not observed on their link with their prefix.
	Bind []ResolvedVIP
	// Keep holds desired VIPs already observed as wanted.
	Keep []ResolvedVIP
	// Conflict holds desired VIPs whose address the node already has without
	// raftvip's mark: they are neither bound nor announced.
	Conflict []Conflict
	// Foreign holds managed addresses, not desired, that raftvip did not add:
	// they are left in place.
	Foreign []Binding
}

// Conflict is a desired VIP whose address a link of the node already has, not
// added by raftvip: the node's own address, or one an operator added. Taking
// it over would announce the node's address to the LAN as the VIP, and
// removing it later would cut the node off. It is also a VIP whose address
// another host on the LAN answers for (MAC set), see lanGuard.
type Conflict struct {
	VIP fsm.VIP
	// At is the address in the way, which may differ from VIP in prefix
	// length, and its link; with MAC, only the link.
	At Binding
	// MAC is set when the address is another host's on the LAN: it answered
	// the probe before the first bind (the VIP is not bound), or, with Held,
	// it announces the VIP this node holds (which is announced again).
	MAC  string
	Held bool
}

// Diff compares the desired VIPs with the addresses observed per link and
// returns what to change. Only managed addresses (and desired ones) that
// raftvip added are ever unbound, so the node's own addresses survive whatever
// is observed, even one equal to a VIP. Addresses are matched by address, not
// prefix: a managed address observed with another prefix length, or on another
// link, than desired is unbound and bound again; a desired VIP whose address is
// observed without the mark on any link is a Conflict. A link missing from
// observed counts as having no addresses.
func Diff(desired []ResolvedVIP, observed map[string][]Found, managed ...netip.Addr) Plan {
	var p Plan
	foreign := map[netip.Addr]Binding{}
	ours := map[Binding]bool{}
	for _, link := range slices.Sorted(maps.Keys(observed)) {
		for _, o := range observed[link] {
			b := Binding{Link: link, Prefix: o.Prefix}
			if o.Ours {
				ours[b] = true
			} else if _, seen := foreign[o.Prefix.Addr()]; !seen {
				foreign[o.Prefix.Addr()] = b
			}
		}
	}
	want := make(map[netip.Addr]ResolvedVIP, len(desired))
	isManaged := make(map[netip.Addr]bool, len(managed)+len(desired))
	for _, d := range desired {
		a := d.VIP.Prefix.Addr()
		isManaged[a] = true
		if at, ok := foreign[a]; ok {
			p.Conflict = append(p.Conflict, Conflict{VIP: d.VIP, At: at})
			continue
		}
		want[a] = d
		if ours[Binding{Link: d.Link, Prefix: d.VIP.Prefix}] {
			p.Keep = append(p.Keep, d)
		} else {
			p.Bind = append(p.Bind, d)
		}
	}
	for _, a := range managed {
		isManaged[a] = true
	}
	for link, os := range observed {
		for _, o := range os {
			a := o.Prefix.Addr()
			switch d, wanted := want[a]; {
			case !isManaged[a]:
			case !o.Ours:
				// A desired VIP's address is already a Conflict.
				if !slices.ContainsFunc(desired, func(d ResolvedVIP) bool { return d.VIP.Prefix.Addr() == a }) {
					p.Foreign = append(p.Foreign, Binding{Link: link, Prefix: o.Prefix})
				}
			case wanted && d.Link == link && d.VIP.Prefix == o.Prefix:
			default:
				p.Unbind = append(p.Unbind, Binding{Link: link, Prefix: o.Prefix})
			}
		}
	}
	slices.SortFunc(p.Unbind, compareBindings)
	slices.SortFunc(p.Foreign, compareBindings)
	return p
}

func compareBindings(a, b Binding) int {
	return cmp.Or(cmp.Compare(a.Link, b.Link), a.Prefix.Addr().Compare(b.Prefix.Addr()),
		cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()))
}
