package main

import (
	"fmt"
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

// profileLabel is the profile column of a system in topology topo: the
// three-node runs keep their bare profile names ("lan", "default", as in
// earlier results), the pair's carry "-pair" ("lan-pair", "default-pair").
func profileLabel(profile, topo string) string {
	if topo == pair {
		return profile + "-pair"
	}
	return profile
}

// layout is how a system of kind runs in topology topo: the lab to build,
// and the node that is a raftvip witness (0 for none).
func layout(kind, topo string) (opts lab.Options, witness int) {
	switch {
	case topo == pair && kind == bench.Raftvip:
		return lab.Options{Nodes: 3, RoutedWitness: true}, 3
	case topo == pair:
		return lab.Options{Nodes: 2}, 0
	}
	return lab.Options{Nodes: 3}, 0
}

// pairings compares each raftvip profile with the keepalived setting of the
// same ambition, in the same topology.
var pairings = []bench.Pairing{
	{Raftvip: "lan", Keepalived: "default"},
	{Raftvip: "fast", Keepalived: "tuned"},
	{Raftvip: profileLabel("lan", pair), Keepalived: profileLabel("default", pair)},
	{Raftvip: profileLabel("fast", pair), Keepalived: profileLabel("tuned", pair)},
}

// pairNote explains the "-pair" profiles in results.md.
const pairNote = "Profiles ending in -pair: two VIP hosts, n1 and n2, on the client's LAN. " +
	"raftvip adds a witness, n3 (-witness), on 198.51.100.0/24 behind a router; keepalived runs " +
	"on n1 (state MASTER) and n2 (state BACKUP) only. In partition, the holder is cut off from n2 " +
	"and from the router, so from the witness too, while the client still reaches it."
