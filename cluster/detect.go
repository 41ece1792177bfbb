package cluster

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"
)

// A follower of hashicorp/raft looks at its last contact with the leader
// only when its heartbeat timer fires, and that timer runs on its own
// cycle, a random one to two heartbeat timeouts each time, whatever the
// contact (raft.go, runFollower). So a follower notices a dead leader one to
// three heartbeat timeouts after the last contact, and as every voter
// refuses votes while it still has a leader, an election waits for the later
// of two such checks. watchContact makes each follower look at its last
// contact plus one heartbeat timeout plus a random delay (detectSpread)
// instead, in clusters of up to three voters (maxWatchedVoters): it asks
// raft to check at once by lowering raft's heartbeat timeout for a moment
// (ReloadConfig wakes the follower's check when the timeout goes down). The
// check's threshold never drops below the profile's heartbeat timeout, so
// the quorum lease's argument (Timing.Validate) holds as before; only the
// wait after the threshold is shorter.

// contactRaft is what watchContact needs of raft.
type contactRaft interface {
	State() raft.RaftState
	LastContact() time.Time
	ReloadableConfig() raft.ReloadableConfig
	ReloadConfig(raft.ReloadableConfig) error
	GetConfiguration() raft.ConfigurationFuture
}

// maxWatchedVoters is the largest cluster whose followers poke raft's
// check. With three voters the first follower to check is refused (the
// other still has the leader) and the second wins; only two checks within
// one round trip of each other could both campaign. With five or seven,
// once a majority has let the leader go every
// further follower that checks wins its pre-vote too, and several
// followers checking within one election round trip split the votes:
// measured at seven nodes, elections then took an election timeout more
// (docs/benchmarks.md, "Failure detection"). Raft's own timer, spread over
// two heartbeat timeouts, keeps them apart there.
const maxWatchedVoters = 3

// raftHeartbeat is the heartbeat timeout raft is configured with: a
// millisecond over the profile's, so that lowering it to the profile's
// wakes raft's check (a reload wakes it only when the timeout goes down)
// without ever checking against less than the profile's.
func (t Timing) raftHeartbeat() time.Duration { return t.Heartbeat + time.Millisecond }

// raftElection is the election timeout raft is configured with: raft wants
// it no shorter than its heartbeat timeout.
func (t Timing) raftElection() time.Duration { return max(t.Election, t.raftHeartbeat()) }

// detectSpread bounds the random delay after the heartbeat timeout before a
// follower checks: two followers that lost the same leader then rarely stand
// within one round trip of each other, which would split their votes and
// cost an election timeout.
func (t Timing) detectSpread() time.Duration { return max(t.Heartbeat/4, time.Millisecond) }

// nextCheck decides, at now, whether a follower should ask raft to check
// its contact (poke) and how long to wait before deciding again. hb is
// raft's heartbeat timeout and spread the random delay drawn for this wait.
// Only a follower with a contact at least hb old is poked; otherwise the
// wait ends at the contact plus hb plus spread, when a leader that is still
// alive will have been heard from again.
func nextCheck(state raft.RaftState, contact, now time.Time, hb, spread time.Duration) (wait time.Duration, poke bool) {
	if state != raft.Follower || contact.IsZero() {
		return hb, false
	}
	since := now.Sub(contact)
	if since >= hb {
		return hb, true
	}
	return hb - since + spread, false
}

// watchContact runs nextCheck until ctx ends.
func watchContact(ctx context.Context, r contactRaft, t Timing, log *slog.Logger) {
	hb := t.raftHeartbeat()
	timer := time.NewTimer(hb)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait, poke := nextCheck(r.State(), r.LastContact(), time.Now(), hb, rand.N(t.detectSpread()))
		// The configuration is read only when a poke is due, not on every
		// wake of every follower.
		if poke && watched(r) {
			if err := pokeCheck(r, t.Heartbeat); err != nil {
				log.Warn("could not ask raft to check the leader's contact", "err", err)
			}
		}
		timer.Reset(wait)
	}
}

// pokeCheck lowers raft's heartbeat timeout to low and sets it back, which
// makes a follower check its last contact at once.
func pokeCheck(r contactRaft, low time.Duration) error {
	rc := r.ReloadableConfig()
	hb := rc.HeartbeatTimeout
	rc.HeartbeatTimeout = low
	if err := r.ReloadConfig(rc); err != nil {
		return err
	}
	rc.HeartbeatTimeout = hb
	return r.ReloadConfig(rc)
}

// watched reports whether raft's latest configuration has at most
// maxWatchedVoters voters. One raft cannot give is taken as small: a poke
// there costs nothing.
func watched(r contactRaft) bool {
	f := r.GetConfiguration()
	return f.Error() != nil || len(voterIDs(f.Configuration())) <= maxWatchedVoters
}
