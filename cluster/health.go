package cluster

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// HealthReport is what a node publishes of itself through the log: whether
// its checks pass, why not, and its priority (fsm.SetHealth).
type HealthReport struct {
	ID       string
	Healthy  bool
	Fault    string
	Priority int
	// Witness: the node votes but never holds the VIPs.
	Witness bool
	// Links are the names of the node's interfaces (Config.Links); none
	// from a witness.
	Links []string
}

// healthState is this node's local health and what it knows of its peers'
// reachability. Its own lock: the agent, Run and the handover loop all touch it.
type healthState struct {
	mu    sync.Mutex
	local Health
	// unreachable are peers raft failed to heartbeat while this node led.
	unreachable map[string]bool
	// lastHeard is when this leader last heard from each peer in unreachable
	// (raft's FailedHeartbeatObservation); other entries are stale.
	lastHeard map[string]time.Time
	// degraded is the reason this leader keeps the VIPs though unhealthy.
	degraded string
	// reporting is true while a health report is on its way to the leader.
	reporting bool
	retryAt   time.Time
	// sentLinks are the links of the last report the leader accepted. A
	// leader of an older release accepts the report without them (the
	// agent resends it so), and the record then never shows them: without
	// this, every pass would report again.
	sentLinks []string
}

// SetHealth records this node's own health, as its checks see it. The leader
// acts on it at once; it reaches the rest of the cluster through the log.
func (n *Node) SetHealth(h Health) {
	n.health.mu.Lock()
	n.health.local = h
	n.health.mu.Unlock()
	n.pokeHandover()
	select {
	case n.runPoke <- struct{}{}: // Run reports it to the leader
	default:
	}
}

// links are this node's link names to report (Config.Links), sorted.
func (n *Node) links() []string {
	if n.cfg.Links == nil || n.cfg.Witness {
		return nil
	}
	l := n.cfg.Links()
	if !slices.IsSorted(l) {
		l = slices.Sorted(slices.Values(l))
	}
	return l
}

// linksSent reports whether links is what the leader last accepted from this node.
func (n *Node) linksSent(links []string) bool {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	return slices.Equal(n.health.sentLinks, links)
}

func (n *Node) localHealth() Health {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	return n.health.local
}

// watchPeers follows raft's heartbeat observations, which only a leader
// makes, until ctx ends.
func (n *Node) watchPeers(ctx context.Context, ch <-chan raft.Observation) {
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-ch:
			n.health.mu.Lock()
			switch d := o.Data.(type) {
			case raft.FailedHeartbeatObservation:
				n.health.unreachable[string(d.PeerID)] = true
				if n.health.lastHeard == nil {
					n.health.lastHeard = map[string]time.Time{}
				}
				n.health.lastHeard[string(d.PeerID)] = d.LastContact
			case raft.ResumedHeartbeatObservation:
				delete(n.health.unreachable, string(d.PeerID))
			}
			n.health.mu.Unlock()
		}
	}
}

// unreachablePeers returns the peers this leader's heartbeats fail to reach
// in its current term, with when it last heard from each (zero if unknown).
func (n *Node) unreachablePeers() map[string]time.Time {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	out := make(map[string]time.Time, len(n.health.unreachable))
	for id, down := range n.health.unreachable {
		if down {
			out[id] = n.health.lastHeard[id]
		}
	}
	return out
}

// healthDue returns this node's health and links, and whether the
// replicated record still differs from them: a report is due, or in flight.
func (n *Node) healthDue() (Health, []string, bool) {
	h := n.localHealth()
	if !h.Known {
		return h, nil, false
	}
	want := fsm.Health{Reported: true, Healthy: h.Healthy, Fault: h.Fault, Priority: n.cfg.Priority}
	links := n.links()
	m := n.fsm.Members()[n.cfg.ID]
	return h, links, !(m.Health == want && m.Witness == n.cfg.Witness &&
		(slices.Equal(m.Links, links) || n.linksSent(links)))
}

// reportHealth publishes this node's health and priority through the log when
// the replicated record differs: directly as leader, through Config.Report
// otherwise. One report at a time, retried after a failure; it runs in
// reports, which Run waits for. It returns whether a report is due: the
// replicated record still differs, whether or not one was sent now.
func (n *Node) reportHealth(ctx context.Context, reports *sync.WaitGroup) bool {
	h, links, due := n.healthDue()
	if !due {
		return false
	}
	n.health.mu.Lock()
	if n.health.reporting || time.Now().Before(n.health.retryAt) {
		n.health.mu.Unlock()
		return true
	}
	n.health.reporting = true
	n.health.mu.Unlock()
	reports.Go(func() {
		r := HealthReport{ID: n.cfg.ID, Healthy: h.Healthy, Fault: h.Fault, Priority: n.cfg.Priority,
			Witness: n.cfg.Witness, Links: links}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		if n.raft.State() == raft.Leader {
			err = n.Apply(rctx, r.Command())
		} else if n.cfg.Report != nil {
			err = n.cfg.Report(rctx, r)
		}
		n.health.mu.Lock()
		n.health.reporting = false
		if err != nil {
			n.health.retryAt = time.Now().Add(time.Second)
		} else {
			n.health.sentLinks = links
		}
		n.health.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			n.log.Warn("cannot report this node's health to the leader; retrying", "healthy", h.Healthy, "err", err)
		}
	})
	return true
}

// setDegraded records why this leader keeps the VIPs while unhealthy, and
// logs each change: an operator must hear about it once, not every tick.
func (n *Node) setDegraded(reason string) {
	n.health.mu.Lock()
	prev := n.health.degraded
	n.health.degraded = reason
	n.health.mu.Unlock()
	switch {
	case reason != "" && reason != prev:
		n.log.Error("degraded: " + reason)
	case reason == "" && prev != "":
		n.log.Info("no longer degraded")
	}
}

func (n *Node) degraded() string {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	return n.health.degraded
}
