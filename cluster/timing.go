package cluster

import (
	"fmt"
	"strings"
	"time"
)

// DefaultProfile is the timing profile used when none is named.
const DefaultProfile = "lan"

// minTimeout is the smallest timeout hashicorp/raft accepts (raft.ValidateConfig).
const minTimeout = 5 * time.Millisecond

// minMargin is the floor of the safety margin: the quorum lease's expiry timer
// fires, the reconciler runs a pass and unbinds, and a heartbeat response read
// after a VerifyLeader began may have left the follower a little before it
// (docs/design.md, "The quorum lease"); none of that takes less than a few ms on
// a busy host.
const minMargin = 10 * time.Millisecond

// Timing is the set of Raft timeouts that decide how fast a VIP moves and
// whether two nodes can ever hold it at once.
type Timing struct {
	// Heartbeat is raft's HeartbeatTimeout: how long a follower waits without
	// hearing from the leader before it may start an election.
	Heartbeat time.Duration `json:"heartbeat"`
	// Election is raft's ElectionTimeout: how long a candidate waits for votes.
	Election time.Duration `json:"election"`
	// LeaderLease is how long the leader may hold the VIPs after the start of
	// its last quorum proof (the quorum lease, lease.go): a leader that has not
	// proved for this long that a majority follows it drops the VIPs. Raft's
	// own LeaderLeaseTimeout, after which raft steps down, is RaftLease.
	LeaderLease time.Duration `json:"leader_lease"`
}

// profileNames lists the valid profile names, for error messages and docs.
func profileNames() []string { return []string{"fast", "lan", "wan"} }

// Profile returns the named timing profile: "lan" (the default, 200/200/150
// ms), "fast" (100/100/75 ms, a quiet LAN) or "wan" (1000/1000/750 ms, raft's
// own heartbeat and election timeouts). Each lease is the heartbeat minus the
// margin: the longest Validate allows. Elections after a leader crash took 386 ms (200 ms timings)
// and 222 ms (100 ms) (docs/design.md, "Raft timings"); with the followers'
// contact watch (detect.go) the project's benchmark measured client outages
// after losing the leader's host of 245 ms (lan) and 134 ms (fast), medians
// of 10 runs (docs/benchmarks.md).
func Profile(name string) (Timing, error) {
	ms := time.Millisecond
	switch name {
	case "fast":
		return Timing{Heartbeat: 100 * ms, Election: 100 * ms, LeaderLease: 75 * ms}, nil
	case "lan":
		return Timing{Heartbeat: 200 * ms, Election: 200 * ms, LeaderLease: 150 * ms}, nil
	case "wan":
		return Timing{Heartbeat: 1000 * ms, Election: 1000 * ms, LeaderLease: 750 * ms}, nil
	}
	return Timing{}, fmt.Errorf("unknown timing profile %q (valid: %s)", name, strings.Join(profileNames(), ", "))
}

// settle bounds how long raft takes to answer an operation while it runs: a
// leader that cannot reach a quorum steps down within about two of raft's
// leases (RaftLease) and fails what it had in flight, quorum proofs
// included; a leadership transfer times out after an election timeout.
func (t Timing) settle() time.Duration {
	return 2*(t.RaftLease()+t.Election) + t.Heartbeat
}

// margin is the time budget between the old leader's quorum lease running out
// and the earliest moment a new leader can exist: the lease's expiry timer may
// fire late, the reconciler then needs a moment to unbind the VIPs, and the
// proof's start may be a little later than the follower's last contact (see
// minMargin). A quarter of the heartbeat scales it with the profile, so slower
// (WAN) clusters get a proportionally larger budget.
func (t Timing) margin() time.Duration {
	return max(t.Heartbeat/4, minMargin)
}

// RaftLease is raft's LeaderLeaseTimeout: the heartbeat timeout, the most raft
// allows (raft.ValidateConfig). The VIPs do not depend on it: the quorum lease
// (LeaderLease) drops them first. Raft's own step-down only ends leadership,
// and a leader that stalled for less than the heartbeat timeout keeps it, so
// that a CPU burst of 100 ms costs no election (docs/design.md, "The leader
// lease below the election timeout").
func (t Timing) RaftLease() time.Duration { return t.Heartbeat }

// proofEvery is how often the leader proves its quorum: three proofs per lease,
// so that one lost or slow proof, or a stall of up to a third of the lease,
// does not let the lease run out.
func (t Timing) proofEvery() time.Duration { return max(t.LeaderLease/3, time.Millisecond) }

// Validate refuses timings under which a partitioned leader could still hold
// the VIPs when the majority elects a new leader. The error wraps
// ErrInvalidTiming and names the values.
//
// Why LeaderLease + margin <= Heartbeat: a leader holds the VIPs for at most
// LeaderLease after the start S of its last successful quorum proof. Every
// follower that answered that proof heard from the leader after S, and refuses
// to vote (pre-vote and vote "leader stickiness" in hashicorp/raft) until its
// own heartbeat timer finds Heartbeat without contact; a new leader needs one
// of them, so none exists before S + Heartbeat. The margin is the time to
// notice the expiry and unbind (docs/design.md, "The leader lease below the
// election timeout"). Measured, the majority elected a new leader only after
// at least one Heartbeat (1971/456/168 ms for 1000/200/100 ms; "Raft timings").
func (t Timing) Validate() error {
	vals := fmt.Sprintf("heartbeat %s, election %s, leader lease %s", t.Heartbeat, t.Election, t.LeaderLease)
	if t.Heartbeat < minTimeout || t.Election < minTimeout || t.LeaderLease < minTimeout {
		return fmt.Errorf("%w: %s: every timeout must be at least %s", ErrInvalidTiming, vals, minTimeout)
	}
	if t.Election < t.Heartbeat {
		return fmt.Errorf("%w: %s: election timeout must not be shorter than the heartbeat timeout",
			ErrInvalidTiming, vals)
	}
	if m := t.margin(); t.LeaderLease+m > t.Heartbeat {
		fix := "raise the heartbeat timeout"
		if lease := t.Heartbeat - m; lease >= minTimeout {
			fix = fmt.Sprintf("lower the leader lease to at most %s or raise the heartbeat timeout", lease)
		}
		return fmt.Errorf("%w: %s: leader lease + margin %s = %s exceeds the heartbeat timeout: "+
			"a partitioned leader could still hold the VIPs when the others elect a new one (%s)",
			ErrInvalidTiming, vals, m, t.LeaderLease+m, fix)
	}
	return nil
}
