package lab

import (
	"bytes"
	"context"
	"fmt"
	"maps"
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

// Heal removes every partition, and every rule Block, Split and Loss added.
func (l *Lab) Heal(ctx context.Context) error {
	l.mu.Lock()
	clear(l.isolated)
	clear(l.cutRouter)
	clear(l.rules)
	l.mu.Unlock()
	l.logf("fault: partitions healed")
	return l.applyPartition(ctx)
}

// netRule is one named network fault at the bridge: frames from the ports of
// From to the ports of To are dropped (To empty: to any port, the client's
// included), all of them or, with Loss above 0, that percentage at random.
type netRule struct {
	from, to []int
	loss     int
}

// Block drops every frame from the nodes from to the nodes to, in that
// direction only: to's frames still reach from. key names the fault, so
// several can be in place at once and Unblock lifts one of them.
func (l *Lab) Block(ctx context.Context, key string, from, to []int) error {
	l.logf("fault %s: frames from %v to %v dropped", key, from, to)
	return l.setRules(ctx, key, netRule{from: from, to: to})
}

// Split cuts the nodes a from the nodes b in both directions; each side
// still talks within itself and to the client. A node in neither side
// reaches both: that makes a bridge.
func (l *Lab) Split(ctx context.Context, key string, a, b []int) error {
	l.logf("fault %s: %v split from %v", key, a, b)
	return l.setRules(ctx, key, netRule{from: a, to: b}, netRule{from: b, to: a})
}

// Loss drops pct percent of the frames to and from each of nodes, chosen at
// random per frame (nft numgen: tc netem is not available everywhere).
func (l *Lab) Loss(ctx context.Context, key string, nodes []int, pct int) error {
	if pct < 1 || pct > 100 {
		return fmt.Errorf("loss %d%%: want 1..100", pct)
	}
	l.logf("fault %s: %d%% loss on %v", key, pct, nodes)
	var rs []netRule
	for _, i := range nodes {
		rs = append(rs, netRule{from: []int{i}, loss: pct}, netRule{to: []int{i}, loss: pct})
	}
	return l.setRules(ctx, key, rs...)
}

// Unblock lifts the fault key of Block, Split or Loss; an unknown key is
// not an error.
func (l *Lab) Unblock(ctx context.Context, key string) error {
	l.mu.Lock()
	delete(l.rules, key)
	l.mu.Unlock()
	l.logf("fault %s: lifted", key)
	return l.applyPartition(ctx)
}

func (l *Lab) setRules(ctx context.Context, key string, rs ...netRule) error {
	for _, r := range rs {
		for _, i := range append(slices.Clone(r.from), r.to...) {
			l.node(i) // range check
		}
		if len(r.from) == 0 && len(r.to) == 0 {
			return fmt.Errorf("fault %s: a rule needs nodes on one side at least", key)
		}
	}
	l.mu.Lock()
	l.rules[key] = rs
	l.mu.Unlock()
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
	keys := slices.Sorted(maps.Keys(l.rules))
	var rules []netRule
	for _, k := range keys {
		rules = append(rules, l.rules[k]...)
	}
	l.mu.Unlock()
	slices.Sort(isolated)
	if len(isolated) == 0 && len(rules) == 0 && !l.hasTable(ctx) {
		return nil // never partitioned: no need for nft at all
	}
	script := partitionRules(isolated, nodes) + routerCutRules(cut) + ruleLines(rules)
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
		var others []int
		for j := 1; j <= nodes; j++ {
			if j != i {
				others = append(others, j)
			}
		}
		if len(others) == 0 {
			continue
		}
		set := portSet(others)
		fmt.Fprintf(&b, "add rule bridge %s forward iifname %q oifname %s drop\n", nftTable, port(i), set)
		fmt.Fprintf(&b, "add rule bridge %s forward iifname %s oifname %q drop\n", nftTable, set, port(i))
	}
	return b.String()
}

// ruleLines renders rules as nft rules for the chain partitionRules made.
func ruleLines(rules []netRule) string {
	var b strings.Builder
	for _, r := range rules {
		line := "add rule bridge " + nftTable + " forward"
		if len(r.from) > 0 {
			line += " iifname " + portSet(r.from)
		}
		if len(r.to) > 0 {
			line += " oifname " + portSet(r.to)
		}
		if r.loss > 0 && r.loss < 100 {
			line += fmt.Sprintf(" numgen random mod 100 < %d", r.loss)
		}
		b.WriteString(line + " drop\n")
	}
	return b.String()
}

// portSet is an nft set of the ports of nodes: { "p1", "p2" }.
func portSet(nodes []int) string {
	names := make([]string, len(nodes))
	for k, i := range nodes {
		names[k] = fmt.Sprintf("%q", port(i))
	}
	return "{ " + strings.Join(names, ", ") + " }"
}

// port is the name of node i's veth end in the lan namespace.
func port(i int) string { return fmt.Sprintf("p%d", i) }
