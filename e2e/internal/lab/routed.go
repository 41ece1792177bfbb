package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// A routed witness (Options.RoutedWitness): the last node sits on its own
// subnet behind a router namespace, as a witness in another rack or site
// would. The router has a port on the LAN bridge (192.0.2.1) and a point-to-
// point link to the witness (198.51.100.1 ↔ 198.51.100.10). Routes exist
// only in lab namespaces: the LAN hosts reach 198.51.100.0/24 through
// 192.0.2.1, the witness reaches 192.0.2.0/24 through 198.51.100.1.

// Addressing of the routed witness.
var (
	routerLANIP     = hostIP(1)
	routerWitnessIP = netip.AddrFrom4([4]byte{198, 51, 100, 1})
	witnessIP       = netip.AddrFrom4([4]byte{198, 51, 100, 10})
	witnessNet      = netip.PrefixFrom(routerWitnessIP, 24).Masked()
	lanNet          = netip.PrefixFrom(routerLANIP, 24).Masked()
)

// routerPort is the router's port on the LAN bridge; routerWitnessLink its
// link towards the witness, in the router namespace.
const (
	routerPort        = "pr"
	routerWitnessLink = "eth1"
)

func (l *Lab) routerNS() string { return l.prefix + "r" }

// buildRouter makes the router namespace: eth0 on the bridge with
// 192.0.2.1/24, forwarding on, no IPv6 (the routed path is IPv4 only).
func (l *Lab) buildRouter(ctx context.Context) error {
	ns := l.routerNS()
	if err := addNetns(ctx, ns); err != nil {
		return err
	}
	const sysctls = "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && " +
		"echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6 && echo 1 >/proc/sys/net/ipv4/ip_forward"
	if _, err := l.Exec(ctx, ns, "sh", "-c", sysctls); err != nil {
		return err
	}
	err := ipBatch(ctx, l.lanNS(),
		fmt.Sprintf("link add %s type veth peer name %s netns %s", routerPort, Link, ns),
		fmt.Sprintf("link set %s master %s", routerPort, bridge),
		fmt.Sprintf("link set %s up", routerPort),
	)
	if err != nil {
		return err
	}
	return ipBatch(ctx, ns,
		"link set lo up",
		fmt.Sprintf("link set %s address 02:72:76:00:00:fc", Link),
		fmt.Sprintf("link set %s up", Link),
		fmt.Sprintf("addr add %s/24 dev %s", routerLANIP, Link),
	)
}

// addRoutedHost makes the witness's namespace ns, linked to the router only:
// eth0 198.51.100.10/24, a route to the LAN through the router.
func (l *Lab) addRoutedHost(ctx context.Context, ns string, macLow byte) (node, error) {
	if err := addNetns(ctx, ns); err != nil {
		return node{}, err
	}
	err := ipBatch(ctx, l.routerNS(),
		fmt.Sprintf("link add %s type veth peer name %s netns %s", routerWitnessLink, Link, ns),
		fmt.Sprintf("addr add %s/24 dev %s", routerWitnessIP, routerWitnessLink),
		fmt.Sprintf("link set %s up", routerWitnessLink),
	)
	if err != nil {
		return node{}, err
	}
	mac := net.HardwareAddr{0x02, 0x72, 0x76, 0, 0, macLow}
	err = ipBatch(ctx, ns,
		"link set lo up",
		fmt.Sprintf("link set %s address %s", Link, mac),
		fmt.Sprintf("link set %s up", Link),
		fmt.Sprintf("addr add %s/24 dev %s", witnessIP, Link),
		fmt.Sprintf("route add %s via %s dev %s", lanNet, routerWitnessIP, Link),
	)
	if err != nil {
		return node{}, err
	}
	got, err := l.nl.linkMAC(ns, Link)
	if err != nil {
		return node{}, err
	}
	return node{ns: ns, mac: got}, nil
}

// routeToWitness gives LAN host ns a route to the witness's subnet through
// the router; without a routed witness it does nothing.
func (l *Lab) routeToWitness(ctx context.Context, ns string) error {
	if l.routed == 0 {
		return nil
	}
	return ipBatch(ctx, ns, fmt.Sprintf("route add %s via %s dev %s", witnessNet, routerLANIP, Link))
}

// RoutedWitness is the index of the node behind the router, 0 without one.
func (l *Lab) RoutedWitness() int { return l.routed }

// PartitionAll cuts node i off from every other node, as Partition does, and
// from the router, so from the routed witness too, while it still reaches
// the client. Heal undoes it.
func (l *Lab) PartitionAll(ctx context.Context, i int) error {
	if err := l.Partition(ctx, i); err != nil {
		return err
	}
	l.mu.Lock()
	l.cutRouter[i] = true
	l.mu.Unlock()
	l.logf("fault: n%d cut off from the router too", i)
	return l.applyPartition(ctx)
}

// routerCutRules drops bridged frames between each listed node's port and
// the router's, both ways.
func routerCutRules(cut []int) string {
	var b strings.Builder
	for _, i := range cut {
		fmt.Fprintf(&b, "add rule bridge %s forward iifname %q oifname %q drop\n", nftTable, port(i), routerPort)
		fmt.Fprintf(&b, "add rule bridge %s forward iifname %q oifname %q drop\n", nftTable, routerPort, port(i))
	}
	return b.String()
}
