package cluster

import (
	"sync/atomic"
	"time"
)

// counters are the node's running totals, for metrics.
type counters struct {
	leaderChanges atomic.Uint64
	vipMoves      atomic.Uint64
	commits       atomic.Uint64
	commitNanos   atomic.Uint64
}

// Stats are running totals since the node opened, for metrics.
type Stats struct {
	// LeaderChanges counts the times this node saw a new leader (a new
	// leader ID, this node included).
	LeaderChanges uint64
	// VIPMoves counts applied claims that moved the VIPs to another node.
	VIPMoves uint64
	// Commits and CommitTime are the count and total duration of this
	// node's own log writes (Apply), from submission to applied: raft's
	// commit and apply latency as a client of the leader sees it.
	Commits    uint64
	CommitTime time.Duration
}

// Stats returns the node's running totals.
func (n *Node) Stats() Stats {
	return Stats{
		LeaderChanges: n.counters.leaderChanges.Load(),
		VIPMoves:      n.counters.vipMoves.Load(),
		Commits:       n.counters.commits.Load(),
		CommitTime:    time.Duration(n.counters.commitNanos.Load()),
	}
}

func (c *counters) commit(took time.Duration) {
	c.commits.Add(1)
	c.commitNanos.Add(uint64(max(took, 0)))
}
