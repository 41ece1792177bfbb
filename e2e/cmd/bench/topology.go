package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// Topologies of the cluster in the lab (-topology).
const (
	// three is three VIP hosts on the client's LAN, for both systems.
	three = "three"
	// pair is two VIP hosts, n1 and n2, on the client's LAN. raftvip adds a
	// witness, n3, on another subnet behind a router (docs/operations.md,
	// "Two hosts and a witness"); keepalived runs as its own MASTER/BACKUP
	// pair, which needs no third host.
	pair = "pair"
)

var topologies = []string{three, pair}

// checkTopologies rejects an unknown or empty -topology list.
func checkTopologies(list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("-topology: empty (known: %s)", strings.Join(topologies, ", "))
	}
	for _, t := range list {
		if t != three && t != pair {
			return fmt.Errorf("-topology: unknown %q (known: %s)", t, strings.Join(topologies, ", "))
		}
	}
	return nil
}

// shape is how one system's cluster is laid out: a topology and, in three,
// how many VIP hosts it has (-nodes; pair always has three nodes).
type shape struct {
	topo  string
	nodes int
}

// shapes are the clusters to run: every size of -nodes in three, and the
// pair.
func shapes(topologies []string, nodes []int) []shape {
	var out []shape
	for _, t := range topologies {
		if t == pair {
			out = append(out, shape{pair, 3})
			continue
		}
		for _, n := range nodes {
			out = append(out, shape{three, n})
		}
	}
	return out
}

// label is the profile column of a system of this shape: three nodes keep
// their bare profile names ("lan", "default", as in earlier results), other
// sizes carry theirs ("lan-5n", "default-7n"), and the pair's carry "-pair"
// ("lan-pair", "default-pair").
func (s shape) label(profile string) string {
	switch {
	case s.topo == pair:
		return profile + "-pair"
	case s.nodes != 3:
		return fmt.Sprintf("%s-%dn", profile, s.nodes)
	}
	return profile
}

// layout is how a system of kind runs in this shape: the lab to build, and
// the node that is a raftvip witness (0 for none).
func (s shape) layout(kind string) (opts lab.Options, witness int) {
	switch {
	case s.topo == pair && kind == bench.Raftvip:
		return lab.Options{Nodes: 3, RoutedWitness: true}, 3
	case s.topo == pair:
		return lab.Options{Nodes: 2}, 0
	}
	return lab.Options{Nodes: s.nodes}, 0
}

// pairingsFor compares each raftvip profile with the keepalived setting of
// the same ambition, in the same shape: lan with default, fast with tuned.
func pairingsFor(shs []shape) []bench.Pairing {
	var out []bench.Pairing
	for _, s := range shs {
		out = append(out,
			bench.Pairing{Raftvip: s.label("lan"), Keepalived: s.label("default")},
			bench.Pairing{Raftvip: s.label("fast"), Keepalived: s.label("tuned")})
	}
	return out
}

// Bounds of -nodes: fewer than three VIP hosts leave no majority after the
// holder is lost; the lab numbers at most lab.MaxNodes.
const minNodes = 3

// checkNodes parses -nodes and rejects sizes the three topology cannot run,
// and any size but 3 with the pair, whose layout is fixed.
func checkNodes(list []string, topologies []string) ([]int, error) {
	if len(list) == 0 {
		return nil, errors.New("-nodes: empty (e.g. 3 or 3,5,7)")
	}
	var out []int
	for _, f := range list {
		n, err := strconv.Atoi(f)
		switch {
		case err != nil:
			return nil, fmt.Errorf("-nodes: %q is not a number", f)
		case n < minNodes || n > lab.MaxNodes:
			return nil, fmt.Errorf("-nodes: %d: want %d to %d (fewer leave no majority once the holder is lost)", n, minNodes, lab.MaxNodes)
		case slices.Contains(out, n):
			return nil, fmt.Errorf("-nodes: %d listed twice", n)
		}
		out = append(out, n)
	}
	if slices.Contains(topologies, pair) && !slices.Equal(out, []int{3}) {
		return nil, fmt.Errorf("-nodes %s with -topology pair: the pair is always two VIP hosts and a witness; "+
			"run other sizes with -topology three", strings.Join(list, ","))
	}
	return out, nil
}

// sizeNote explains the "-5n" profiles in results.md.
func sizeNote(nodes []int) string {
	var others []string
	for _, n := range nodes {
		if n != 3 {
			others = append(others, fmt.Sprintf("-%dn", n))
		}
	}
	if len(others) == 0 {
		return ""
	}
	return fmt.Sprintf("Profiles ending in %s: the three topology with that many VIP hosts, n1 to nN at 192.0.2.11 up, "+
		"all voters; keepalived runs on as many hosts, priorities in node order (%s). The fault hits the holder, as with three.",
		strings.Join(others, ", "), priorityList(slices.Max(nodes)))
}

// pairNote explains the "-pair" profiles in results.md.
const pairNote = "Profiles ending in -pair: two VIP hosts, n1 and n2, on the client's LAN. " +
	"raftvip adds a witness, n3 (-witness), on 198.51.100.0/24 behind a router; keepalived runs " +
	"on n1 (state MASTER) and n2 (state BACKUP) only. In partition, the holder is cut off from n2 " +
	"and from the router, so from the witness too, while the client still reaches it."
