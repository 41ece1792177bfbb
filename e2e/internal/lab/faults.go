package lab

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
)

// nftTable is the bridge-family table in the lan namespace that holds the
// partition rules. The namespace is the lab's own, so a fixed name is safe.
const nftTable = "lab"

// HostDown cuts node i's port at the bridge (its lan-side veth goes down), as
// if the host lost power or its cable: its processes keep running but reach
// nobody, and nobody reaches them.
func (l *Lab) HostDown(ctx context.Context, i int) error {
	l.node(i) // range check
	l.logf("fault: host n%d down", i)
	if i == l.routed {
		return ipBatch(ctx, l.routerNS(), "link set "+routerWitnessLink+" down")
	}
	return ipBatch(ctx, l.lanNS(), fmt.Sprintf("link set %s down", port(i)))
}

// HostUp restores node i's bridge port after HostDown.
func (l *Lab) HostUp(ctx context.Context, i int) error {
	l.node(i)
	l.logf("fault: host n%d up", i)
	if i == l.routed {
		return ipBatch(ctx, l.routerNS(), "link set "+routerWitnessLink+" up")
	}
	return ipBatch(ctx, l.lanNS(), fmt.Sprintf("link set %s up", port(i)))
}

// Partition cuts node i off from every other node, in both directions and for
// every frame (ARP and neighbour discovery included), while it still reaches
// the client and the client reaches it: the split-brain case VRRP gets wrong.
// Calling it for several nodes isolates each of them on its own. Heal undoes
// all partitions.
func (l *Lab) Partition(ctx context.Context, i int) error {
	l.node(i)
	if i == l.routed {
		return fmt.Errorf("partition n%d: the routed witness is cut off with HostDown, or its peers with PartitionAll", i)
	}
	l.mu.Lock()
	l.isolated[i] = true
	l.mu.Unlock()
	l.logf("fault: n%d partitioned from its peers", i)
	return l.applyPartition(ctx)
}

// Heal removes every partition.
func (l *Lab) Heal(ctx context.Context) error {
	l.mu.Lock()
	clear(l.isolated)
	clear(l.cutRouter)
	l.mu.Unlock()
	l.logf("fault: partitions healed")
	return l.applyPartition(ctx)
}

// applyPartition replaces the forward chain of the lab's bridge table with the
// rules for the current set of isolated nodes, in one nft transaction.
func (l *Lab) applyPartition(ctx context.Context) error {
	l.mu.Lock()
	var isolated, cut []int
	for i := range l.isolated {
		isolated = append(isolated, i)
	}
	for i := range l.cutRouter {
		cut = append(cut, i)
	}
	slices.Sort(cut)
	nodes := len(l.nodes)
	l.mu.Unlock()
	slices.Sort(isolated)
	if len(isolated) == 0 && !l.hasTable(ctx) {
		return nil // never partitioned: no need for nft at all
	}
	script := partitionRules(isolated, nodes) + routerCutRules(cut)
	cmd := l.Cmd(l.lanNS(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %w: %s\n%s", l.lanNS(), err, bytes.TrimSpace(out), script)
	}
	return nil
}

func (l *Lab) hasTable(ctx context.Context) bool {
	_, err := l.Exec(ctx, l.lanNS(), "nft", "list", "table", "bridge", nftTable)
	return err == nil
}

// partitionRules is the nft script that drops bridged frames between each
// isolated node's port and every other node's port. The client's port is never
// named, so it keeps talking to everyone.
func partitionRules(isolated []int, nodes int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "add table bridge %s\n", nftTable)
	fmt.Fprintf(&b, "add chain bridge %s forward { type filter hook forward priority 0; policy accept; }\n", nftTable)
	fmt.Fprintf(&b, "flush chain bridge %s forward\n", nftTable)
	for _, i := range isolated {
		var others []string
		for j := 1; j <= nodes; j++ {
			if j != i {
				others = append(others, fmt.Sprintf("%q", port(j)))
			}
		}
		if len(others) == 0 {
			continue
		}
		set := "{ " + strings.Join(others, ", ") + " }"
		fmt.Fprintf(&b, "add rule bridge %s forward iifname %q oifname %s drop\n", nftTable, port(i), set)
		fmt.Fprintf(&b, "add rule bridge %s forward iifname %s oifname %q drop\n", nftTable, set, port(i))
	}
	return b.String()
}

// port is the name of node i's veth end in the lan namespace.
func port(i int) string { return fmt.Sprintf("p%d", i) }
