package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// buildLAN sets up the lan namespace (pickPrefix created it) with an up bridge. Multicast snooping is
// off so IPv6 neighbour discovery floods like on a dumb switch; STP is off
// (the default), so ports forward as soon as they are up.
func (l *Lab) buildLAN(ctx context.Context) error {
	ns := l.lanNS()
	// A switch has no IPv6 of its own: without this the ports and the bridge
	// send DAD and router solicitations, noise in every capture of the LAN.
	const noV6 = "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6 && echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6"
	if _, err := l.Exec(ctx, ns, "sh", "-c", noV6); err != nil {
		return err
	}
	return ipBatch(ctx, ns,
		"link set lo up",
		"link add "+bridge+" type bridge mcast_snooping 0",
		"link set "+bridge+" up",
	)
}

// AddNode adds node n(N+1) to the running lab, with its responder when
// StartResponders was called, and returns its index.
func (l *Lab) AddNode(ctx context.Context) (int, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return 0, ErrClosed
	}
	i := len(l.nodes) + 1
	l.mu.Unlock()
	if i > MaxNodes {
		return 0, fmt.Errorf("add node %d: at most %d", i, MaxNodes)
	}

	var n node
	var err error
	if i == l.routed {
		n, err = l.addRoutedHost(ctx, fmt.Sprintf("%sn%d", l.prefix, i), byte(i))
	} else if n, err = l.addHost(ctx, fmt.Sprintf("%sn%d", l.prefix, i), port(i), 10+i, byte(i)); err == nil {
		err = l.routeToWitness(ctx, n.ns)
	}
	if err != nil {
		return 0, fmt.Errorf("node %d: %w", i, err)
	}
	l.mu.Lock()
	l.nodes = append(l.nodes, n)
	respond := l.responding
	l.mu.Unlock()
	if err := l.applyPartition(ctx); err != nil {
		return i, err
	}
	if respond {
		if _, err := l.startResponder(ctx, i); err != nil {
			return i, err
		}
	}
	return i, nil
}

// addHost makes namespace ns with eth0 on the bridge (its peer, named port, sits
// in the lan namespace, where link names are private), addresses
// 192.0.2.host/24 and 2001:db8::host/64, and the locally administered MAC
// 02:72:76:00:00:macLow, so logs and neighbour tables are easy to read.
func (l *Lab) addHost(ctx context.Context, ns, port string, host int, macLow byte) (node, error) {
	if err := addNetns(ctx, ns); err != nil {
		return node{}, err
	}
	return l.plug(ctx, ns, macLow, l.bridgePort(port),
		fmt.Sprintf("addr add %s/24 dev %s", hostIP(host), Link),
		// nodad: usable at once, no 1-2 s tentative phase (docs/design.md,
		// "IPv6 neighbour advertisements").
		fmt.Sprintf("addr add %s/64 dev %s nodad", hostIP6(host), Link),
	)
}

// peer is the far end of a namespace's eth0: the end of the veth pair named
// end in namespace ns, made ready there by cmds.
type peer struct {
	ns, end string
	cmds    []string
}

// bridgePort is a peer on the LAN bridge, named port in the lan namespace.
func (l *Lab) bridgePort(port string) peer {
	return peer{ns: l.lanNS(), end: port, cmds: []string{
		fmt.Sprintf("link set %s master %s", port, bridge),
		fmt.Sprintf("link set %s up", port),
	}}
}

// plug gives the existing namespace ns its eth0, the other end of a veth pair
// to p, with the MAC 02:72:76:00:00:macLow, brings lo and eth0 up and then
// runs cmds (addresses, routes) in ns.
func (l *Lab) plug(ctx context.Context, ns string, macLow byte, p peer, cmds ...string) (node, error) {
	// The veth pair is born in p's namespace and its other end goes straight
	// to ns: nothing ever appears in the root namespace.
	add := fmt.Sprintf("link add %s type veth peer name %s netns %s", p.end, Link, ns)
	if err := ipBatch(ctx, p.ns, append([]string{add}, p.cmds...)...); err != nil {
		return node{}, err
	}
	mac := net.HardwareAddr{0x02, 0x72, 0x76, 0, 0, macLow}
	err := ipBatch(ctx, ns, append([]string{
		"link set lo up",
		fmt.Sprintf("link set %s address %s", Link, mac),
		fmt.Sprintf("link set %s up", Link),
	}, cmds...)...)
	if err != nil {
		return node{}, err
	}
	got, err := l.nl.linkMAC(ns, Link)
	if err != nil {
		return node{}, err
	}
	return node{ns: ns, mac: got}, nil
}

// ipBatch runs iproute2 commands inside namespace ns, one process for all of
// them (`ip -n ns -batch -`). Every lab command goes through here or through
// addNetns/delNetns, so none can touch the root namespace.
func ipBatch(ctx context.Context, ns string, cmds ...string) error {
	if ns == "" {
		return fmt.Errorf("ip %q: no namespace given", cmds)
	}
	cmd := exec.CommandContext(ctx, "ip", "-n", ns, "-batch", "-")
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ip -n %s %q: %w: %s", ns, cmds, err, bytes.TrimSpace(out))
	}
	return nil
}

// errNetnsExists is addNetns's error for a name that is taken.
var errNetnsExists = errors.New("namespace exists")

func addNetns(ctx context.Context, ns string) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "add", ns).CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("File exists")) {
		err = errNetnsExists
	}
	if err != nil {
		return fmt.Errorf("ip netns add %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// delNetns deletes namespace ns; an absent one is not an error, so Close can
// clean up after a half-built lab.
func delNetns(ctx context.Context, ns string) error {
	out, err := exec.CommandContext(ctx, "ip", "netns", "del", ns).CombinedOutput()
	if err != nil && !bytes.Contains(out, []byte("No such file")) {
		return fmt.Errorf("ip netns del %s: %w: %s", ns, err, bytes.TrimSpace(out))
	}
	return nil
}

// listNetns lists the names of all named network namespaces.
func listNetns(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	for line := range strings.Lines(string(out)) {
		// Lines look like "rv123abclan (id: 4)" or just "rv123abclan".
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// ListNetns lists the named network namespaces whose name starts with prefix,
// so a test can check that Close left none behind.
func ListNetns(ctx context.Context, prefix string) ([]string, error) {
	all, err := listNetns(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ns := range all {
		if strings.HasPrefix(ns, prefix) {
			out = append(out, ns)
		}
	}
	return out, nil
}

// Cmd returns a command that runs name inside namespace ns
// (`ip netns exec ns name args...`).
func (l *Lab) Cmd(ns, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Exec runs name inside namespace ns and returns its combined output; the error
// includes the output.
func (l *Lab) Exec(ctx context.Context, ns, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s in %s: %w: %s", name, ns, err, bytes.TrimSpace(out))
	}
	return string(out), nil
}
