package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// A witness (Config.Witness) is a full Raft voter that never holds the VIPs:
// the third voter that lets two VIP hosts keep a majority when one of them
// fails. It votes and campaigns with the same timing as the others, since a
// pair and a witness whose witness could not lead would lose liveness
// whenever the witness was the only candidate with a current log. When it is
// elected it hands leadership on before claiming (handOverUnclaimed, with
// succession naming a VIP-capable voter), so it never binds; with none to
// hand to it keeps leading, holding nothing, and says so (leadAsWitness).

// ErrWitness: the named member is a witness, which never holds the VIPs, so
// leadership is not handed to it.
var ErrWitness = errors.New("member is a witness, which never holds the VIPs")

// Command is the log entry that records r (fsm.SetHealth, or
// fsm.SetWitnessHealth for a witness).
func (r HealthReport) Command() fsm.Command {
	if r.Witness {
		return fsm.SetWitnessHealth(r.ID, r.Healthy, r.Fault, r.Priority)
	}
	return fsm.SetHealth(r.ID, r.Healthy, r.Fault, r.Priority).WithLinks(r.Links)
}

// witnessSuccession is a witness leader's decision: hand over to the best
// VIP-capable voter, or, with none healthy and reachable, keep leading with
// no holder, which the handover loop reports as degraded.
func witnessSuccession(best candidate, ok bool) decision {
	if !ok {
		return decision{Degraded: true, Reason: "this node is a witness and leads, but no VIP-capable voter " +
			"is healthy and reachable: no node holds the VIPs"}
	}
	return decision{Target: best.id, Reason: fmt.Sprintf("this node is a witness; %s can hold the VIPs", best.id)}
}

// leadAsWitness runs for as long as a witness leads in term without having
// handed over: it records the witness's API address, as a claiming leader
// does, then lets the handover loop hand leadership on as soon as a VIP-capable voter
// can take it. It never claims, so no node holds the VIPs meanwhile.
func (n *Node) leadAsWitness(ctx context.Context, term uint64) {
	n.log.Info("this witness leads; it claims nothing and hands leadership on when a VIP-capable voter can take it",
		"term", term)
	if st := n.fsm.State(); n.cfg.APIAddr != "" && st.Members[n.cfg.ID].APIAddr != n.cfg.APIAddr {
		if err := n.Apply(ctx, fsm.SetMember(n.cfg.ID, n.cfg.APIAddr)); err != nil && ctx.Err() == nil {
			n.log.Warn("cannot record this node's API address", "api_addr", n.cfg.APIAddr, "err", err)
		}
	}
	n.handover(ctx, term)
}

// handOffTarget is whom a leader stepping down without a named successor
// (shutdown, `raftvip transfer` with no ID) hands leadership to. Without
// witnesses it is raft's choice (""), the most up-to-date follower. With a
// witness among the members raft might pick it, which would cost a second
// transfer before anyone holds the VIPs, so the best VIP-capable voter is
// named instead, when one is healthy and reachable.
func (n *Node) handOffTarget(ctx context.Context) (string, raft.ServerAddress) {
	in := n.successionInput(&handoverState{refused: map[string]time.Time{}}, time.Now())
	anyWitness := false
	for _, id := range in.voters {
		anyWitness = anyWitness || in.members[id].Witness
	}
	if !anyWitness {
		return "", ""
	}
	n.passOverUnreachable(ctx, &in)
	best, ok := bestSuccessor(in)
	if !ok {
		return "", ""
	}
	s, ok := n.server(best.id)
	if !ok {
		return "", ""
	}
	return best.id, s.Address
}
