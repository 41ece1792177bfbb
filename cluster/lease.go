package cluster

import (
	"context"
	"sync"
	"time"
)

// quorumLease is the VIP-side twin of raft's leader lease: the time at which a
// quorum last confirmed this node's leadership in a term. View reports the node
// as leader only while that confirmation is younger than the leader lease.
//
// Why raft's own state is not enough: a leader frozen by SIGSTOP (or a swap
// storm) wakes up with raft.State() still Leader, and whichever goroutine runs
// first decides. In the e2e lab the reconciler ran first, saw "Leader", bound
// and announced the VIP again a few milliseconds before raft's lease check
// stepped down, and pulled the client back to a host that no longer served it
// (1.1-8 s outage). A time-based gate is immune to that ordering: after a freeze
// the confirmation is old, whatever raft has not noticed yet.
//
// It is also where a handover gives leadership up: resign makes valid false in
// that term at once, whatever keepLease confirms afterwards, so that the VIPs
// drop before the transfer starts. One gate, so View asks one question.
type quorumLease struct {
	mu        sync.Mutex
	term      uint64
	confirmed time.Time // when the last successful confirmation started
	resigned  bool      // a handover gave up leadership in term
}

// use moves the lease to term if it is newer: nothing confirmed, not resigned.
// It reports whether the lease is now in term; an older term changes nothing,
// so a verify that finishes after a newer term began cannot take it back.
func (q *quorumLease) use(term uint64) bool {
	if term > q.term {
		q.term, q.confirmed, q.resigned = term, time.Time{}, false
	}
	return term == q.term
}

// confirm records that a quorum acknowledged leadership in term some time
// after started. Only the start is known to precede the acknowledgement, so it
// is what counts.
func (q *quorumLease) confirm(term uint64, started time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.use(term) && started.After(q.confirmed) {
		q.confirmed = started
	}
}

// resign makes the lease invalid in term until unresign or a newer term.
func (q *quorumLease) resign(term uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.use(term) {
		q.resigned = true
	}
}

// unresign takes back resign(term): the handover failed, this node still leads.
func (q *quorumLease) unresign(term uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if term == q.term {
		q.resigned = false
	}
}

// valid reports whether leadership in term was confirmed within window of now
// and not resigned.
func (q *quorumLease) valid(term uint64, now time.Time, window time.Duration) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return term == q.term && !q.resigned && !q.confirmed.IsZero() && now.Sub(q.confirmed) < window
}

// keepLease confirms leadership in term with raft's VerifyLeader every quarter
// of the leader lease, until ctx ends. Verification runs in the background so
// that a verify stuck behind a partition never delays noticing that the
// confirmation expired: every tick re-checks the gate and pokes on a change.
func (n *Node) keepLease(ctx context.Context, term uint64) {
	window := n.cfg.Timing.LeaderLease
	tick := time.NewTicker(max(window/4, time.Millisecond))
	defer tick.Stop()
	var pending <-chan error // the verify in flight, if any
	var started time.Time
	due, fresh := true, false
	for {
		if due && pending == nil {
			started, due = time.Now(), false
			pending = n.futures.start(n.raft.VerifyLeader)
		}
		select {
		case <-ctx.Done():
			return
		case err := <-pending:
			pending = nil
			if err == nil {
				n.lease.confirm(term, started)
			}
		case <-tick.C:
			due = true
		}
		if now := n.lease.valid(term, time.Now(), window); now != fresh {
			fresh = now
			n.changed()
		}
	}
}
