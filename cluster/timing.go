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

// minMargin is the floor of the safety margin. The raft leader loop re-checks its
// lease no more often than every 10 ms (minCheckInterval in raft.go), so a
// partitioned leader can step down up to 10 ms after its lease expired.
const minMargin = 10 * time.Millisecond

// Timing is the set of Raft timeouts that decide how fast a VIP moves and
// whether two nodes can ever hold it at once.
type Timing struct {
	// Heartbeat is raft's HeartbeatTimeout: how long a follower waits without
	// hearing from the leader before it may start an election.
	Heartbeat time.Duration `json:"heartbeat"`
	// Election is raft's ElectionTimeout: how long a candidate waits for votes.
	Election time.Duration `json:"election"`
	// LeaderLease is raft's LeaderLeaseTimeout: a leader that has not heard from
	// a majority for this long steps down.
	LeaderLease time.Duration `json:"leader_lease"`
}

// profileNames lists the valid profile names, for error messages and docs.
func profileNames() []string { return []string{"fast", "lan", "wan"} }

// Profile returns the named timing profile: "lan" (the default, 200/200/100
// ms), "fast" (100/100/50 ms, a quiet LAN) or "wan" (1000/1000/500 ms, raft's
// own defaults). Elections after a leader crash took 386 ms (200 ms timings)
// and 222 ms (100 ms) (docs/design.md, "Raft timings"); the project's benchmark
// measured client outages after losing the leader's host of 375 ms (lan) and
// 224 ms (fast), medians of 10 runs (docs/benchmarks.md).
func Profile(name string) (Timing, error) {
	ms := time.Millisecond
	switch name {
	case "fast":
		return Timing{Heartbeat: 100 * ms, Election: 100 * ms, LeaderLease: 50 * ms}, nil
	case "lan":
		return Timing{Heartbeat: 200 * ms, Election: 200 * ms, LeaderLease: 100 * ms}, nil
	case "wan":
		return Timing{Heartbeat: 1000 * ms, Election: 1000 * ms, LeaderLease: 500 * ms}, nil
	}
	return Timing{}, fmt.Errorf("unknown timing profile %q (valid: %s)", name, strings.Join(profileNames(), ", "))
}

// settle bounds how long raft takes to answer an operation while it runs: a
// leader that cannot reach a quorum steps down within about two leader
// leases and fails what it had in flight; a leadership transfer times out
// after an election timeout.
func (t Timing) settle() time.Duration {
	return 2*(t.LeaderLease+t.Election) + t.Heartbeat
}

// margin is the time budget between the old leader's lease running out and the
// earliest moment followers may start an election: the raft leader loop may
// notice the lost lease up to minMargin late, and the reconciler then needs a
// moment to unbind the VIPs. A quarter of the heartbeat scales it with the
// profile, so slower (WAN) clusters get a proportionally larger budget.
func (t Timing) margin() time.Duration {
	return max(t.Heartbeat/4, minMargin)
}

// Validate refuses timings under which a partitioned leader could still hold
// the VIPs when the majority elects a new leader. The error wraps
// ErrInvalidTiming and names the values.
//
// Why LeaderLease + margin <= Heartbeat: a leader cut off from its peers keeps
// acting as leader until its lease runs out; measured (docs/design.md, "Raft
// timings"), it stepped down at about the lease (493/105/54 ms for leases of
// 500/100/50 ms). A follower only starts an election after Heartbeat without hearing from the
// leader, and with randomized timers the majority elected a new leader only
// after at least one Heartbeat (1971/456/168 ms). Raft itself only requires
// LeaderLease <= Heartbeat, which leaves no time for the step-down to be
// noticed and the VIPs to be unbound; the margin is that time.
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
