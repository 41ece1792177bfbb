package cluster

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/raftvip/raftvip/fsm"
)

// Health is this node's own view of its health checks, set by the agent.
type Health struct {
	// Known is false until every check has produced a first result: a node
	// still starting neither hands over nor is handed to.
	Known   bool
	Healthy bool
	// Fault says which checks fail, for status, logs and the fault hook.
	Fault string
}

// successionInput is everything the leader's handover decision depends on.
type successionInput struct {
	self     string
	health   Health
	priority int
	preempt  bool
	// witness is true when this node is a witness: it hands leadership on
	// whatever its health, and no voter is better than none.
	witness bool
	// voters are the voting members of the Raft configuration.
	voters  []string
	members map[string]fsm.Member
	// excluded are voters not to hand to now: unreachable (failed
	// heartbeats) or recently refused a transfer.
	excluded map[string]bool
}

// decision is what the leader should do about its leadership.
type decision struct {
	// Target is the voter to hand leadership to; empty means keep it.
	Target string
	// Preempt is true when Target is chosen for its higher priority, not
	// because this node is unhealthy; the caller applies the preempt delay.
	Preempt bool
	// Degraded is true when this node is unhealthy and no healthy voter
	// can take over: it keeps the VIPs, since a degraded service beats none.
	Degraded bool
	Reason   string
}

// succession decides whether a healthy-enough leader keeps leading. An
// unhealthy leader hands over to the best healthy voter; a healthy one hands
// over only with preemption on, to a healthy voter of strictly higher
// priority (equal priorities never preempt, so a recovered node does not
// flap leadership back). Best means highest priority, then lowest ID, so
// every leader picks the same successor from the same state. A witness is
// never a successor, and a witness leader always hands over when it can.
func succession(in successionInput) decision {
	best, ok := bestSuccessor(in)
	switch {
	case in.witness:
		return witnessSuccession(best, ok)
	case in.health.Known && !in.health.Healthy:
		if !ok {
			return decision{Degraded: true, Reason: fmt.Sprintf(
				"this node is unhealthy (%s) and no other voter reports healthy: keeping the VIPs", in.health.Fault)}
		}
		return decision{Target: best.id, Reason: fmt.Sprintf("this node is unhealthy (%s); %s reports healthy",
			in.health.Fault, best.id)}
	case in.preempt && in.health.Known && ok && best.priority > in.priority:
		return decision{Target: best.id, Preempt: true, Reason: fmt.Sprintf(
			"preempt: %s has priority %d, this node %d", best.id, best.priority, in.priority)}
	}
	return decision{}
}

type candidate struct {
	id       string
	priority int
}

// eligible reports whether voter id may be handed leadership: another node,
// not passed over, able to hold the VIPs and reporting healthy.
func (in successionInput) eligible(id string) bool {
	h := in.members[id].Health
	return id != in.self && !in.excluded[id] && !in.members[id].Witness && h.Reported && h.Healthy
}

func bestSuccessor(in successionInput) (candidate, bool) {
	var cs []candidate
	for _, id := range in.voters {
		if in.eligible(id) {
			cs = append(cs, candidate{id: id, priority: in.members[id].Health.Priority})
		}
	}
	if len(cs) == 0 {
		return candidate{}, false
	}
	return slices.MinFunc(cs, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.priority, a.priority), strings.Compare(a.id, b.id))
	}), true
}
