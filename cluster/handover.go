package cluster

import (
	"context"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// recordHandover commits why this leader is about to hand leadership to id
// ("" lets raft pick), so that the claim that follows in the new leader's term
// names the reason in the failover history (fsm/history.go): the new leader
// cannot know it. It must commit before the transfer starts, since raft takes
// no new entries during one. Bounded by a heartbeat timeout; a failure is only
// logged: the history then says "election", the handover itself goes on.
func (n *Node) recordHandover(ctx context.Context, id string, reason fsm.Reason) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timing.Heartbeat)
	defer cancel()
	if err := n.Apply(ctx, fsm.HandoverOf(n.cfg.ID, id, reason, time.Now().UnixMilli())); err != nil {
		n.log.Warn("cannot record the reason of the handover in the failover history", "reason", reason, "err", err)
	}
}

// handoverReason is the history's reason for a handover decided by succession.
func handoverReason(d decision) fsm.Reason {
	if d.Preempt {
		return fsm.ReasonPreempt
	}
	return fsm.ReasonHealth
}
