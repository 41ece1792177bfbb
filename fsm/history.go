package fsm

// The failover history: the last MaxHistory ownership changes, appended when a
// claim in a newer term is applied, so every replica holds the same list. The
// times in it come from the commands (the claimant's and the handing-over
// leader's wall clocks), never from the node that applies them.
//
// Why the VIPs moved is known only to the leader that gave them up, so a
// leader about to hand leadership on first commits a Handover naming its
// reason; the next claim in a newer term consumes it if it was made by the
// owner that claim displaces, in that owner's term. A claim with no such
// handover behind it follows the loss of the leader: an election.

// MaxHistory bounds State.History: it is replicated and kept in every snapshot.
const MaxHistory = 64

// handoverWindow is how long (ms, between the Handover's and the claim's
// At) a recorded handover explains the next claim. A transfer that fails
// leaves the leader leading in the same term; if that leader is lost much
// later, its stale handover must not explain that loss. Both times are in the
// log, so every replica decides alike.
const handoverWindow = 30_000

// Reason says why the VIPs moved to another node (or to the same node in a
// newer term).
type Reason string

// The reasons this release records. A log written by a later release may hold
// others; they are kept and shown as they are.
const (
	// ReasonBootstrap: the first claim of a new cluster.
	ReasonBootstrap Reason = "bootstrap"
	// ReasonElection: the previous leader was lost or cut off, and the others
	// elected a new one.
	ReasonElection Reason = "election"
	// ReasonTransfer: an operator moved leadership (`raftvip transfer`).
	ReasonTransfer Reason = "transfer"
	// ReasonLeave: the leader was asked to leave the cluster.
	ReasonLeave Reason = "leave"
	// ReasonHealth: the leader's health checks failed and it handed over to a
	// healthy voter.
	ReasonHealth Reason = "health"
	// ReasonPreempt: a healthy voter of higher priority took over (-preempt).
	ReasonPreempt Reason = "preempt"
	// ReasonShutdown: the leader stopped gracefully (SIGTERM) and handed over.
	ReasonShutdown Reason = "shutdown"
)

// maxReason bounds a Handover's reason text (Validate).
const maxReason = 32

// Change is one entry of the failover history.
type Change struct {
	// At is the claimant's wall clock when its claim committed (Unix ms); 0
	// when the claim did not say.
	At int64 `json:"at,omitempty"`
	// From is the previous owner ("" for the first claim), To the new one;
	// they are equal when a node is re-elected in a newer term.
	From string `json:"from,omitempty"`
	To   string `json:"to"`
	Term uint64 `json:"term"`
	// Takeover is how long no node held the VIPs before the claim (ms), as
	// the claimant measured it.
	Takeover int64  `json:"takeover_ms,omitempty"`
	Reason   Reason `json:"reason"`
}

// Handover is a leader's recorded intent to hand leadership on, waiting for
// the claim that follows it.
type Handover struct {
	From   string `json:"from"`
	To     string `json:"to,omitempty"` // "" when raft picks the successor
	Reason Reason `json:"reason"`
	// Term is the term of the Handover's log entry; At the leader's wall
	// clock when it submitted it (Unix ms).
	Term uint64 `json:"term"`
	At   int64  `json:"at,omitempty"`
}

// HandoverOf returns the command by which leader from records that it is
// about to hand leadership to (to "" lets raft pick) for reason, at its wall
// clock at (Unix ms).
func HandoverOf(from, to string, reason Reason, at int64) Command {
	return Command{Type: TypeHandover, Node: from, To: to, Reason: reason, At: at}
}

// recordClaim appends to n the history entry of claim c, accepted in a newer
// term than s's owner, and consumes s's pending handover.
func recordClaim(n *State, s State, c Command) {
	reason := ReasonElection
	switch h := s.Handover; {
	case s.Owner.Node == "":
		reason = ReasonBootstrap
	case h != nil && h.From == s.Owner.Node && h.Term == s.Owner.Term && withinWindow(h.At, c.At):
		reason = h.Reason
	}
	n.Handover = nil
	n.History = append(n.History, Change{At: c.At, From: s.Owner.Node, To: c.Node, Term: c.Term,
		Takeover: c.Takeover, Reason: reason})
	n.History = trimHistory(n.History)
}

// withinWindow reports whether a claim at claimAt may be explained by a
// handover at handAt. Unknown times (0) do not rule it out: the term check
// already ties the two together.
func withinWindow(handAt, claimAt int64) bool {
	if handAt == 0 || claimAt == 0 {
		return true
	}
	d := claimAt - handAt
	return d > -handoverWindow && d < handoverWindow
}

// trimHistory keeps the last MaxHistory entries, in a slice of its own.
func trimHistory(h []Change) []Change {
	if len(h) <= MaxHistory {
		return h
	}
	return append([]Change(nil), h[len(h)-MaxHistory:]...)
}
