package cluster

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// refusedFor is how long a voter that did not take a handover is passed over,
// so that a leader does not drop its VIPs again and again for a node that
// cannot take them.
const refusedFor = 10 * time.Second

// HealthReport is what a node publishes of itself through the log: whether
// its checks pass, why not, and its priority (fsm.SetHealth).
type HealthReport struct {
	ID       string
	Healthy  bool
	Fault    string
	Priority int
}

// healthState is this node's local health and what it knows of its peers'
// reachability. Its own lock: the agent, Run and the guard all touch it.
type healthState struct {
	mu    sync.Mutex
	local Health
	// unreachable are peers raft failed to heartbeat while this node led.
	unreachable map[string]bool
	// degraded is the reason this leader keeps the VIPs though unhealthy.
	degraded string
	// reporting is true while a health report is on its way to the leader.
	reporting bool
	retryAt   time.Time
}

// SetHealth records this node's own health, as its checks see it. The leader
// acts on it at once; it reaches the rest of the cluster through the log.
func (n *Node) SetHealth(h Health) {
	n.health.mu.Lock()
	n.health.local = h
	n.health.mu.Unlock()
	n.pokeGuard()
}

func (n *Node) localHealth() Health {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	return n.health.local
}

func (n *Node) pokeGuard() {
	select {
	case n.guardPoke <- struct{}{}:
	default:
	}
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
			case raft.ResumedHeartbeatObservation:
				delete(n.health.unreachable, string(d.PeerID))
			}
			n.health.mu.Unlock()
		}
	}
}

// reportHealth publishes this node's health and priority through the log when
// the replicated record differs: directly as leader, through Config.Report
// otherwise. One report at a time, retried after a failure.
func (n *Node) reportHealth(ctx context.Context) {
	h := n.localHealth()
	if !h.Known {
		return
	}
	want := fsm.Health{Reported: true, Healthy: h.Healthy, Fault: h.Fault, Priority: n.cfg.Priority}
	if n.fsm.Members()[n.cfg.ID].Health == want {
		return
	}
	n.health.mu.Lock()
	if n.health.reporting || time.Now().Before(n.health.retryAt) {
		n.health.mu.Unlock()
		return
	}
	n.health.reporting = true
	n.health.mu.Unlock()
	go func() {
		r := HealthReport{ID: n.cfg.ID, Healthy: h.Healthy, Fault: h.Fault, Priority: n.cfg.Priority}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		var err error
		if n.raft.State() == raft.Leader {
			err = n.Apply(rctx, fsm.SetHealth(r.ID, r.Healthy, r.Fault, r.Priority))
		} else if n.cfg.Report != nil {
			err = n.cfg.Report(rctx, r)
		}
		n.health.mu.Lock()
		n.health.reporting = false
		if err != nil {
			n.health.retryAt = time.Now().Add(time.Second)
		}
		n.health.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			n.log.Warn("cannot report this node's health to the leader; retrying", "healthy", h.Healthy, "err", err)
		}
	}()
}

// guardState is a leadership term's memory of the handover decisions.
type guardState struct {
	refused map[string]time.Time // voter -> passed over until
	// preempt is the voter a preemption waits for, since preemptSince.
	preempt      string
	preemptSince time.Time
}

// guard watches, for as long as this node leads in term, whether it should
// hand leadership over (succession), and does so. It returns when ctx ends
// or after a handover succeeded.
func (n *Node) guard(ctx context.Context, term uint64) {
	tick := time.NewTicker(max(n.cfg.Timing.Heartbeat, 10*time.Millisecond))
	defer tick.Stop()
	defer n.setDegraded("")
	g := guardState{refused: map[string]time.Time{}}
	for {
		if n.guardPass(ctx, term, &g, time.Now()) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-n.guardPoke:
		case <-tick.C:
		}
	}
}

// guardPass is one evaluation; it reports whether leadership was handed over.
func (n *Node) guardPass(ctx context.Context, term uint64, g *guardState, now time.Time) bool {
	d := succession(n.successionInput(g, now))
	if d.Degraded {
		n.setDegraded(d.Reason)
	} else {
		n.setDegraded("")
	}
	switch {
	case d.Target == "":
		g.preempt = ""
		return false
	case d.Preempt && !n.preemptDue(g, d.Target, now):
		return false
	}
	err := n.handOverTo(ctx, term, d, true)
	if err != nil && ctx.Err() == nil {
		g.refused[d.Target] = time.Now().Add(refusedFor)
	}
	return err == nil
}

// handOverTo carries out decision d: leadership to d.Target (handOver, with
// its grace period when VIPs may be bound). A failure is logged; the caller
// keeps leading.
func (n *Node) handOverTo(ctx context.Context, term uint64, d decision, grace bool) error {
	s, ok := n.server(d.Target)
	if !ok {
		return fmt.Errorf("hand over to %s: %w", d.Target, ErrUnknownMember)
	}
	n.log.Warn("handing leadership over", "to", d.Target, "term", term, "reason", d.Reason, "claimed", grace)
	err := n.handOver(ctx, d.Target, s.Address, grace, handoverReason(d))
	if err != nil && ctx.Err() == nil {
		n.log.Warn("handover refused; keeping leadership", "to", d.Target, "err", err)
	}
	return err
}

// preemptDue reports whether target has been the preemption candidate for
// the configured delay.
func (n *Node) preemptDue(g *guardState, target string, now time.Time) bool {
	if g.preempt != target {
		g.preempt, g.preemptSince = target, now
		if n.cfg.PreemptDelay > 0 {
			n.log.Info("a node of higher priority is ready; preempting after the delay",
				"node", target, "delay", n.cfg.PreemptDelay)
		}
	}
	return now.Sub(g.preemptSince) >= n.cfg.PreemptDelay
}

func (n *Node) successionInput(g *guardState, now time.Time) successionInput {
	in := successionInput{
		self:     n.cfg.ID,
		health:   n.localHealth(),
		priority: n.cfg.Priority,
		preempt:  n.cfg.Preempt,
		members:  n.fsm.Members(),
		excluded: map[string]bool{},
	}
	n.health.mu.Lock()
	maps.Copy(in.excluded, n.health.unreachable)
	n.health.mu.Unlock()
	for id, until := range g.refused {
		if now.Before(until) {
			in.excluded[id] = true
		}
	}
	if cf := n.raft.GetConfiguration(); cf.Error() == nil {
		for _, s := range cf.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				in.voters = append(in.voters, string(s.ID))
			}
		}
	}
	return in
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
