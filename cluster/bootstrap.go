package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
)

// Peer is one server of a new cluster's first configuration.
type Peer struct {
	ID       string
	RaftAddr string
}

// Answer is what one address listed by -join said about its node (its GET
// /v1/status), or why it said nothing.
type Answer struct {
	// Addr is the API address that was asked.
	Addr string
	// Err is set when the address did not answer; the other fields are then
	// empty.
	Err error
	// ID and RaftAddr are the node's identity (Status.ID, Status.RaftAddr).
	ID, RaftAddr string
	// Member: the node holds Raft state, i.e. it is (or was) a member of a
	// cluster (Status.HasState, or an older node listing members).
	Member bool
	// Expect is the node's -bootstrap-expect while it waits for a cluster to
	// form; 0 otherwise.
	Expect int
}

// StartAction is what a node without state does at start (PlanStart).
type StartAction int

// The start actions.
const (
	// StartWait: not enough is known yet; ask again.
	StartWait StartAction = iota
	// StartJoin: a listed node is a member of a cluster; join it.
	StartJoin
	// StartBootstrap: create the cluster of Plan.Servers.
	StartBootstrap
)

// StartPlan is PlanStart's decision.
type StartPlan struct {
	Action StartAction
	// Servers, for StartBootstrap, are the voters of the first configuration,
	// sorted by ID so that every node that bootstraps writes the same one.
	Servers []Peer
	// Member, for StartJoin, is the answer of the member found.
	Member Answer
	// Wait, for StartWait, says what is missing, for the log.
	Wait string
}

// PlanStart decides how a node without Raft state (self) starts, given the
// answers of the addresses listed by -join. It is the one place that decides
// whether a new cluster may be created, so that no configuration can fork a
// running one:
//
//   - Any listed node that is a member of a cluster wins: the node joins it,
//     with -bootstrap or -bootstrap-expect alike. A bootstrap left in a config
//     after the first start then does no harm.
//   - With -bootstrap (expect 0) and no member answering, it bootstraps a
//     one-node cluster, as a first start always did.
//   - With -bootstrap-expect N, it bootstraps only once every listed address
//     has answered, none is a member, and together with self they are exactly
//     N distinct nodes all waiting with the same N; the configuration is those
//     N nodes. Requiring every listed node (not any N of them) is what makes
//     the configuration the same on every node that bootstraps, which is
//     what makes several bootstraps safe (raft.BootstrapCluster): two nodes
//     that saw different sets of N could each elect a leader.
//
// An error is a configuration that can never form a cluster (more or fewer
// nodes listed than N, two nodes with one ID); waiting would not help.
func PlanStart(self Peer, expect int, answers []Answer) (StartPlan, error) {
	for _, a := range answers {
		switch {
		case a.Err != nil || !a.Member:
		case a.ID == self.ID:
			// This node's ID, with state, elsewhere: an old copy of this node
			// still runs. Neither joining as it nor a new cluster is right.
			return StartPlan{}, fmt.Errorf("%s answers as a member with this node's ID %s: "+
				"stop that node, or give this one another ID", a.Addr, a.ID)
		default:
			return StartPlan{Action: StartJoin, Member: a}, nil
		}
	}
	if expect == 0 {
		return StartPlan{Action: StartBootstrap, Servers: []Peer{self}}, nil
	}
	var silent, other []string
	seen := map[string]Peer{self.ID: self}
	for _, a := range answers {
		switch {
		case a.Err != nil:
			silent = append(silent, a.Addr)
			continue
		case a.Expect != expect:
			other = append(other, fmt.Sprintf("%s at %s has bootstrap-expect %d", a.ID, a.Addr, a.Expect))
		}
		if p, ok := seen[a.ID]; ok && p.RaftAddr != a.RaftAddr {
			return StartPlan{}, fmt.Errorf("two nodes claim ID %s (raft %s and %s, the latter at %s): node IDs must be unique",
				a.ID, p.RaftAddr, a.RaftAddr, a.Addr)
		}
		seen[a.ID] = Peer{ID: a.ID, RaftAddr: a.RaftAddr}
	}
	if len(silent) > 0 {
		return StartPlan{Action: StartWait, Wait: fmt.Sprintf("waiting for %s to answer", strings.Join(silent, ", "))}, nil
	}
	if len(seen) != expect {
		return StartPlan{}, fmt.Errorf("-join lists %d nodes (this one included) but -bootstrap-expect is %d: "+
			"list exactly the members of the new cluster", len(seen), expect)
	}
	if len(other) > 0 {
		return StartPlan{Action: StartWait, Wait: fmt.Sprintf("waiting for every node to have bootstrap-expect %d: %s",
			expect, strings.Join(other, ", "))}, nil
	}
	servers := slices.SortedFunc(maps.Values(seen), func(a, b Peer) int { return cmp.Compare(a.ID, b.ID) })
	byAddr := map[string]string{}
	for _, p := range servers {
		if p.RaftAddr == "" {
			return StartPlan{}, fmt.Errorf("node %s did not say its raft address", p.ID)
		}
		if id, ok := byAddr[p.RaftAddr]; ok {
			return StartPlan{}, fmt.Errorf("nodes %s and %s have raft address %s: each needs its own", id, p.ID, p.RaftAddr)
		}
		byAddr[p.RaftAddr] = p.ID
	}
	return StartPlan{Action: StartBootstrap, Servers: servers}, nil
}

// Bootstrap makes this node a one-member cluster, which then elects it. With
// existing state it does nothing: the configuration on disk wins.
func (n *Node) Bootstrap() error {
	return n.BootstrapWith([]Peer{{ID: n.cfg.ID, RaftAddr: string(n.trans.LocalAddr())}})
}

// BootstrapWith makes servers, all voters, the first configuration of a new
// cluster. Every node named there may call it, with the same servers: that is
// safe, and the first election makes one of them leader. With existing state it
// does nothing.
func (n *Node) BootstrapWith(servers []Peer) error {
	if n.hasState {
		n.log.Info("bootstrap skipped: the data dir already holds cluster state")
		return nil
	}
	if !slices.ContainsFunc(servers, func(p Peer) bool { return p.ID == n.cfg.ID }) {
		return fmt.Errorf("bootstrap %s: this node is not among the servers %v", n.cfg.ID, servers)
	}
	var conf raft.Configuration
	for _, p := range servers {
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr),
		})
	}
	err := n.raft.BootstrapCluster(conf).Error()
	if errors.Is(err, raft.ErrCantBootstrap) {
		n.log.Info("bootstrap skipped: raft already has state")
		return nil
	}
	if err != nil {
		return fmt.Errorf("bootstrap %s: %w", n.cfg.ID, err)
	}
	n.log.Info("bootstrapped a new cluster", "id", n.cfg.ID, "addr", n.trans.LocalAddr(), "voters", peerIDs(servers))
	return nil
}

func peerIDs(ps []Peer) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}
