package lab

import (
	"context"
	"fmt"
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
	// routerMACLow makes the router's eth0 02:72:76:00:00:fc.
	routerMACLow = 0xfc
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
	_, err := l.plug(ctx, ns, routerMACLow, l.bridgePort(routerPort),
		fmt.Sprintf("addr add %s/24 dev %s", routerLANIP, Link))
	return err
}

// addRoutedHost makes the witness's namespace ns, linked to the router only:
// eth0 198.51.100.10/24, a route to the LAN through the router.
func (l *Lab) addRoutedHost(ctx context.Context, ns string, macLow byte) (node, error) {
	if err := addNetns(ctx, ns); err != nil {
		return node{}, err
	}
	router := peer{ns: l.routerNS(), end: routerWitnessLink, cmds: []string{
		fmt.Sprintf("addr add %s/24 dev %s", routerWitnessIP, routerWitnessLink),
		fmt.Sprintf("link set %s up", routerWitnessLink),
	}}
	return l.plug(ctx, ns, macLow, router,
		fmt.Sprintf("addr add %s/24 dev %s", witnessIP, Link),
		fmt.Sprintf("route add %s via %s dev %s", lanNet, routerWitnessIP, Link),
	)
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
