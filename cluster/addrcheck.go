package cluster

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// ErrAddressConflict: a VIP would take a member's own address, or a joining
// node uses an address a VIP or a live member already has. Nothing changed.
var ErrAddressConflict = errors.New("address conflict")

// hostAddr returns the IP of a host:port (or bare host) address, unmapped so
// that ::ffff:192.0.2.11 and 192.0.2.11 compare equal; false for names, which
// cannot be compared without DNS.
func hostAddr(hostPort string) (netip.Addr, bool) {
	host := hostPort
	if h, _, err := net.SplitHostPort(hostPort); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// conflictingMember says which member address vip would take, or "" when it
// takes none. A VIP equal to a member's Raft or API host would be bound and
// announced by the leader, pulling that member's own traffic (Raft, API, ARP
// entries of every neighbour) to the leader: the member is cut off.
func conflictingMember(vip netip.Addr, conf raft.Configuration, members map[string]fsm.Member) string {
	vip = vip.Unmap().WithZone("")
	for _, s := range conf.Servers {
		if a, ok := hostAddr(string(s.Address)); ok && a == vip {
			return fmt.Sprintf("%s is the Raft address of member %s (%s)", vip, s.ID, s.Address)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(members)) {
		if a, ok := hostAddr(members[id].APIAddr); ok && a == vip {
			return fmt.Sprintf("%s is the API address of member %s (%s)", vip, id, members[id].APIAddr)
		}
	}
	return ""
}

// conflictingVIP says which VIP a joining node's Raft or API address is, or
// "" when neither is one: the leader would bind that address and cut the
// node off as soon as it joined.
func conflictingVIP(raftAddr, apiAddr string, vips []fsm.VIP) string {
	for _, v := range vips {
		va := v.Prefix.Addr().Unmap().WithZone("")
		for _, x := range []struct{ name, addr string }{{"Raft", raftAddr}, {"API", apiAddr}} {
			if a, ok := hostAddr(x.addr); ok && a == va {
				return fmt.Sprintf("its %s address %s is the cluster's VIP %s; a VIP is bound by whichever node leads, "+
					"so give the node an address of its own", x.name, x.addr, v.Prefix)
			}
		}
	}
	return ""
}

// checkVIPCommand refuses a command that would make a member's address a VIP
// (AddVIP, SeedVIPs). Other commands pass.
func checkVIPCommand(c fsm.Command, conf raft.Configuration, members map[string]fsm.Member) error {
	var vips []fsm.VIP
	switch c.Type {
	case fsm.TypeAddVIP:
		if c.VIP != nil {
			vips = []fsm.VIP{*c.VIP}
		}
	case fsm.TypeSeedVIPs:
		vips = c.VIPs
	}
	for _, v := range vips {
		if why := conflictingMember(v.Prefix.Addr(), conf, members); why != "" {
			return fmt.Errorf("%w: refusing VIP %s: %s; a VIP must be an address no node has of its own",
				ErrAddressConflict, v.Prefix, why)
		}
	}
	return nil
}
