package cluster

// The handover loop: while this node leads, it decides from health and
// priority (succession) whether to hand leadership to another voter, and
// does so (handOver).

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// refusedFor is how long a voter that did not take a handover is passed over,
// so that a leader does not drop its VIPs again and again for a node that
// cannot take them.
const refusedFor = 10 * time.Second

// pokeHandover makes the leader's handover loop look again now (on a health
// or FSM change) rather than at its next tick; a poke already pending will do.
func (n *Node) pokeHandover() {
	select {
	case n.handoverPoke <- struct{}{}:
	default:
	}
}

// handoverState is a leadership term's memory of the handover decisions.
type handoverState struct {
	refused map[string]time.Time // voter -> passed over until
	// preempt is the voter a preemption waits for, since preemptSince.
	preempt      string
	preemptSince time.Time
}

// handover watches, for as long as this node leads in term, whether it should
// hand leadership over (succession), and does so. It returns when ctx ends
// or after a handover succeeded.
func (n *Node) handover(ctx context.Context, term uint64) {
	tick := time.NewTicker(max(n.cfg.Timing.Heartbeat, 10*time.Millisecond))
	defer tick.Stop()
	defer n.setDegraded("")
	g := handoverState{refused: map[string]time.Time{}}
	for {
		if n.handoverPass(ctx, term, &g, time.Now()) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-n.handoverPoke:
		case <-tick.C:
		}
	}
}

// handoverPass is one evaluation; it reports whether leadership was handed over.
func (n *Node) handoverPass(ctx context.Context, term uint64, g *handoverState, now time.Time) bool {
	n.handoverPasses.Add(1)
	in := n.successionInput(g, now)
	d := succession(in)
	// Dial only once there is someone to hand to, and the preempt delay (if
	// any) has run: a leader with nobody to hand to dials nobody.
	if d.Target != "" && (!d.Preempt || n.preemptDue(g, d.Target, now)) {
		d = n.reachableSuccession(ctx, in)
	}
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
func (n *Node) preemptDue(g *handoverState, target string, now time.Time) bool {
	if g.preempt != target {
		g.preempt, g.preemptSince = target, now
		if n.cfg.PreemptDelay > 0 {
			n.log.Info("a node of higher priority is ready; preempting after the delay",
				"node", target, "delay", n.cfg.PreemptDelay)
		}
	}
	return now.Sub(g.preemptSince) >= n.cfg.PreemptDelay
}

// successionInput gathers what succession decides on; it dials nobody (see
// reachableSuccession).
func (n *Node) successionInput(g *handoverState, now time.Time) successionInput {
	in := successionInput{
		self:     n.cfg.ID,
		health:   n.localHealth(),
		priority: n.cfg.Priority,
		preempt:  n.cfg.Preempt,
		witness:  n.cfg.Witness,
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

// handOverUnclaimed hands leadership on before claiming when this node won an
// election while unhealthy and a healthy voter can lead: it never binds the
// VIPs, so clients are not pulled to it and away again. It reports whether
// the handover succeeded; if not, the node claims and the handover loop retries.
// A target that does not take it (its host lost with the old leader) is
// passed over for the next, so that an unhealthy winner does not claim only
// because the first choice was gone.
func (n *Node) handOverUnclaimed(ctx context.Context, term uint64) bool {
	g := &handoverState{refused: map[string]time.Time{}}
	for range maxUnclaimedTries {
		d := n.reachableSuccession(ctx, n.successionInput(g, time.Now()))
		if d.Target == "" || d.Preempt {
			return false
		}
		// Nothing is bound yet: no grace period for the reconciler to drop it.
		if n.handOverTo(ctx, term, d, false) == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		g.refused[d.Target] = time.Now().Add(refusedFor)
	}
	return false
}

// maxUnclaimedTries bounds how many targets handOverUnclaimed tries before
// the node claims and leaves the rest to the handover loop.
const maxUnclaimedTries = 3

// handOver transfers leadership to id ("" lets raft pick the most up-to-date
// follower). From the moment it starts, View reports this node as not leader,
// so the reconciler drops the VIPs before another node can claim them
// (docs/design.md, "Drop, then transfer"). With grace it also waits the timing
// margin for that drop, because the caller has not dropped them itself.
// Reason goes into the failover history (recordHandover).
func (n *Node) handOver(ctx context.Context, id string, addr raft.ServerAddress, grace bool, reason fsm.Reason) error {
	n.handOverMu.Lock()
	defer n.handOverMu.Unlock()
	term := n.raft.CurrentTerm()
	// Recorded while this node still serves the VIPs: the clients do not
	// wait for that write round.
	n.recordHandover(ctx, term, id, reason)
	n.lease.resign(term)
	n.changed()
	if grace {
		n.awaitReleased(ctx)
	}
	err := n.await(ctx, func() raft.Future {
		if id == "" {
			return n.raft.LeadershipTransfer()
		}
		return n.raft.LeadershipTransferToServer(raft.ServerID(id), addr)
	})
	if err != nil {
		// Still leader in this term: take the VIPs back.
		n.lease.unresign(term)
		n.changed()
		return wrapRaft("leadership transfer", err)
	}
	n.log.Info("leadership handed over", "term", term, "to", cmp.Or(id, "(most up-to-date follower)"))
	return nil
}

// awaitReleased waits, before a transfer the caller has not dropped the VIPs
// for, until this node's reconciler has dropped them: Config.Released
// confirms a pass that read the view after the resignation and whose unbinds
// have returned, so the VIPs are out of the kernel when it returns, however
// slow the kernel was. Without Released nothing can confirm it, and the
// timing margin, the reconciler's latency budget, is waited instead. It gives
// up after releaseWait: past that the kernel lifetime (-vip-lease) bounds
// what is left.
func (n *Node) awaitReleased(ctx context.Context) {
	if n.cfg.Released == nil {
		t := time.NewTimer(n.cfg.Timing.margin())
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		return
	}
	ctx, cancel := context.WithTimeout(ctx, releaseWait)
	defer cancel()
	if err := n.cfg.Released(ctx); err != nil {
		n.log.Warn("handing leadership over before the VIPs are dropped here; their kernel lifetime bounds the overlap",
			"waited", releaseWait, "err", err)
	}
}

// releaseWait bounds awaitReleased's wait for the reconciler.
const releaseWait = time.Second

// recordHandover commits why this leader is about to hand leadership to id
// ("" lets raft pick), so that the claim that follows in the new leader's term
// names the reason in the failover history (fsm/history.go): the new leader
// cannot know it. It must commit before the transfer starts, since raft takes
// no new entries during one. A reason already recorded in this term
// (PrepareShutdown) is not written again. Bounded by a heartbeat timeout; a
// failure is only logged: the history then says "election", the handover
// itself goes on. The caller holds handOverMu.
func (n *Node) recordHandover(ctx context.Context, term uint64, id string, reason fsm.Reason) {
	if n.recorded == (recordedHandover{term, reason}) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timing.Heartbeat)
	defer cancel()
	if err := n.Apply(ctx, fsm.HandoverOf(n.cfg.ID, id, reason, time.Now().UnixMilli())); err != nil {
		n.log.Warn("cannot record the reason of the handover in the failover history", "reason", reason, "err", err)
		return
	}
	n.recorded = recordedHandover{term, reason}
}

// recordedHandover is the reason recordHandover last committed, and in which
// term.
type recordedHandover struct {
	term   uint64
	reason fsm.Reason
}

// PrepareShutdown, if this node leads, chooses whom Shutdown will hand
// leadership to and commits the reason of that handover, while the caller
// still serves the VIPs: neither the choice (with a witness among the
// members, dials to the candidates) nor the write round then lengthens the
// clients' outage. Shutdown does both itself if this was not called or did
// not succeed. Bounded like recordHandover.
func (n *Node) PrepareShutdown(ctx context.Context) {
	if n.raft.State() != raft.Leader {
		return
	}
	n.handOverMu.Lock()
	defer n.handOverMu.Unlock()
	term := n.raft.CurrentTerm()
	id, addr := n.handOffTarget(ctx)
	n.recordHandover(ctx, term, id, fsm.ReasonShutdown)
	if n.recorded == (recordedHandover{term, fsm.ReasonShutdown}) {
		n.shutdownTarget = preparedTarget{term: term, id: id, addr: addr}
	}
}

// preparedTarget is PrepareShutdown's choice of successor, in term.
type preparedTarget struct {
	term uint64
	id   string
	addr raft.ServerAddress
}

// shutdownTargetFor returns PrepareShutdown's choice if it was made in term,
// else chooses now.
func (n *Node) shutdownTargetFor(ctx context.Context, term uint64) (string, raft.ServerAddress) {
	n.handOverMu.Lock()
	p := n.shutdownTarget
	n.handOverMu.Unlock()
	if p.term == term && term != 0 {
		return p.id, p.addr
	}
	return n.handOffTarget(ctx)
}

// handoverReason is the history's reason for a handover decided by succession.
func handoverReason(d decision) fsm.Reason {
	if d.Preempt {
		return fsm.ReasonPreempt
	}
	return fsm.ReasonHealth
}
