package cluster

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// quorumLease is the gate between Raft leadership and holding the VIPs: the
// time at which a quorum last proved this node's leadership in a term. View
// reports the node as leader only while that proof is younger than the leader
// lease (Timing.LeaderLease), which stays below the heartbeat timeout by the
// margin, so that the VIPs are gone before any new leader can exist
// (docs/design.md, "The leader lease below the election timeout").
//
// Why raft's own state is not enough: a leader frozen by SIGSTOP (or a swap
// storm) wakes up with raft.State() still Leader, and whichever goroutine runs
// first decides. In the e2e lab the reconciler ran first, saw "Leader", bound
// and announced the VIP again a few milliseconds before raft's lease check
// stepped down, and pulled the client back to a host that no longer served it
// (1.1-8 s outage). A time-based gate is immune to that ordering: after a freeze
// the proof is old, whatever raft has not noticed yet.
//
// It is also where a handover gives leadership up: resign makes the gate
// closed in that term at once, whatever keepLease proves afterwards, so that
// the VIPs drop before the transfer starts. One gate, so View asks one question.
type quorumLease struct {
	mu        sync.Mutex
	term      uint64
	confirmed time.Time // when the last successful proof started
	resigned  bool      // a handover gave up leadership in term
}

// use moves the lease to term if it is newer: nothing confirmed, not resigned.
// It reports whether the lease is now in term; an older term changes nothing,
// so a proof that finishes after a newer term began cannot take it back.
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

// confirmedAt returns the start of the last proof in term (zero if none).
func (q *quorumLease) confirmedAt(term uint64) time.Time {
	q.mu.Lock()
	defer q.mu.Unlock()
	if term != q.term {
		return time.Time{}
	}
	return q.confirmed
}

// handingOver reports whether a handover gave up leadership in term.
func (q *quorumLease) handingOver(term uint64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return term == q.term && q.resigned
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
	return q.standing(term, now, window) == standing{}
}

// standing is why the gate is closed; the zero value means open.
type standing struct {
	// why is a sentence for the log; empty when the gate is open.
	why string
	// lapsed: proved in this term before, but not within the lease. Raft may
	// still lead; a proof can open the gate again in the same term.
	lapsed bool
}

// standing says whether the gate is open in term at now, and if not, why.
func (q *quorumLease) standing(term uint64, now time.Time, window time.Duration) standing {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case term != q.term || q.confirmed.IsZero():
		return standing{why: "leadership not proved yet in this term"}
	case q.resigned:
		return standing{why: "handing leadership over"}
	}
	if age := now.Sub(q.confirmed); age >= window {
		return standing{why: fmt.Sprintf("quorum lease lapsed: no quorum proof for %s (leader lease %s)",
			age.Round(time.Millisecond), window), lapsed: true}
	}
	return standing{}
}

// proof is how keepLease asks a quorum.
type proof int

const (
	// verify is raft's VerifyLeader: one heartbeat round, no disk write.
	verify proof = iota
	// barrier commits a log entry (raft's Barrier): a write and an fsync on a
	// quorum, but immune to heartbeat responses that waited out a stall.
	barrier
)

func (p proof) String() string {
	if p == barrier {
		return "barrier"
	}
	return "verify"
}

// proofFor picks the proof for a lease whose last proof is age old, proved
// every interval. VerifyLeader counts any heartbeat response raft reads after
// it began, including the response to a heartbeat sent before it: when the
// process stalled between that heartbeat and the verify, the follower may
// have heard from this node long before the verify's start, and a new leader
// may already exist. An overdue proof means something stalled (the keeper or
// the whole process), so it is made with a log entry instead, which only a
// quorum that received it after it was appended can commit.
func proofFor(age, interval time.Duration, proved bool) proof {
	if proved && age >= 2*interval {
		return barrier
	}
	return verify
}

// nextProof returns when keepLease proves again: one interval after the last
// proof began, but no sooner than half an interval after the last attempt,
// so that a failing proof is retried without spinning.
func nextProof(confirmed, attempted time.Time, interval time.Duration) time.Time {
	next := confirmed.Add(interval)
	if retry := attempted.Add(interval / 2); retry.After(next) {
		next = retry
	}
	return next
}

// keepLease proves leadership in term every Timing.proofEvery, until ctx
// ends, and pokes whenever the gate opens or closes. A proof runs in the
// background, so that one stuck behind a partition never delays noticing
// that the lease ran out: a timer wakes the keeper at the lease's expiry.
// After a stall the timer fires late and the proof is made at once, so a
// leader that stalled for less than the lease keeps the VIPs, and one that
// stalled longer takes them back in the same term only once a quorum has
// committed its barrier (docs/design.md, "The quorum lease").
func (n *Node) keepLease(ctx context.Context, term uint64) {
	window, every := n.cfg.Timing.LeaderLease, n.cfg.Timing.proofEvery()
	// The proof in flight, if any: n.futures owns the goroutine that waits
	// for raft's answer, and Shutdown lets it settle, so the keeper need not
	// wait for it when it returns.
	var pending <-chan error
	timer := time.NewTimer(0)
	defer timer.Stop()
	var started time.Time
	var kind proof
	tr := keeperTrace{window: window, stall: every / 2}
	open := false
	var lapsed time.Time // when the gate last lapsed, until it opens again
	for {
		now := time.Now()
		confirmed := n.lease.confirmedAt(term)
		// No proof during a handover: the gate is closed anyway, and raft
		// may shut down next.
		idle := pending == nil && !n.lease.handingOver(term)
		if idle && !now.Before(nextProof(confirmed, started, every)) {
			kind = proofFor(now.Sub(confirmed), every, !confirmed.IsZero())
			started = now
			pending = n.futures.start(func() raft.Future { return n.prove(kind, window) })
		}
		if s := n.lease.standing(term, now, window); (s == standing{}) != open {
			open = !open
			lapsed = n.logLease(term, now, lapsed, s, kind, tr.describe(now, pending != nil, kind, started))
			n.changed()
		}
		wait := n.leaseWake(term, now, idle && pending == nil, started, every, window)
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case err := <-pending:
			pending = nil
			if err == nil {
				n.lease.confirm(term, started)
			} else {
				tr.failed, tr.failedAt = fmt.Errorf("%s: %w", kind, err), started
				n.log.Debug("quorum proof failed", "term", term, "proof", kind, "err", err)
			}
		case <-timer.C:
			// The clock, not the channel's value: since Go 1.23 a timer
			// sends the time it was due, however late it ran.
			tr.woke(now.Add(wait), time.Now())
		}
	}
}

// keeperTrace is what keepLease saw of the last lease window, so that the
// lapse's log line tells the causes apart: a proof still waiting for a
// quorum (peers or the network slow), a proof refused, or the keeper itself
// not running (the process stalled: its timer fired much later than asked).
type keeperTrace struct {
	window, stall time.Duration // the lease; the lateness that counts as a stall
	failed        error         // the last proof that failed
	failedAt      time.Time     // when it began
	late          time.Duration // the last stall
	lateAt        time.Time     // when the keeper woke from it
}

// woke records a timer that was due at due and fired at fired, if that late
// is a stall: a wake a little late does not hide an earlier stall.
func (tr *keeperTrace) woke(due, fired time.Time) {
	if late := fired.Sub(due); late >= tr.stall {
		tr.late, tr.lateAt = late, fired
	}
}

// describe says what the keeper saw within the lease window before now,
// with the proof in flight (pending, of kind, begun at started).
func (tr *keeperTrace) describe(now time.Time, pending bool, kind proof, started time.Time) string {
	var parts []string
	if pending {
		parts = append(parts, fmt.Sprintf("%s in flight for %s", kind, now.Sub(started).Round(time.Millisecond)))
	}
	if tr.failed != nil && now.Sub(tr.failedAt) < tr.window {
		parts = append(parts, fmt.Sprintf("%s ago a proof failed: %v", now.Sub(tr.failedAt).Round(time.Millisecond), tr.failed))
	}
	if tr.late > 0 && now.Sub(tr.lateAt) < tr.window {
		parts = append(parts, fmt.Sprintf("this process stalled: the keeper woke %s late %s ago",
			tr.late.Round(time.Millisecond), now.Sub(tr.lateAt).Round(time.Millisecond)))
	}
	if len(parts) == 0 {
		return "no proof in flight, none failed, the keeper on time"
	}
	return strings.Join(parts, "; ")
}

// prove starts a proof of the given kind.
func (n *Node) prove(kind proof, timeout time.Duration) raft.Future {
	if kind == barrier {
		return n.raft.Barrier(timeout)
	}
	return n.raft.VerifyLeader()
}

// leaseWake returns how long keepLease may sleep: until the next proof is due
// (if it may start one: none in flight, no handover) or the lease expires,
// whichever is first, and at most one interval.
func (n *Node) leaseWake(term uint64, now time.Time, mayProve bool, started time.Time, every, window time.Duration) time.Duration {
	confirmed := n.lease.confirmedAt(term)
	wake := now.Add(every)
	if !confirmed.IsZero() {
		if exp := confirmed.Add(window); exp.After(now) && exp.Before(wake) {
			wake = exp
		}
	}
	if mayProve {
		if next := nextProof(confirmed, started, every); next.Before(wake) {
			wake = next
		}
	}
	return max(wake.Sub(now), 0)
}

// logLease says when the gate lapses and when it opens again after a lapse,
// and returns when the current lapse began (zero when open). The reconciler
// logs the drop itself, with the reason, if VIPs were held.
func (n *Node) logLease(term uint64, now, lapsed time.Time, s standing, kind proof, seen string) time.Time {
	switch {
	case (s == standing{}) && !lapsed.IsZero():
		n.log.Info("quorum lease held again", "term", term, "proof", kind,
			"lapsed_for", now.Sub(lapsed).Round(time.Millisecond))
		return time.Time{}
	case s.lapsed:
		n.log.Info("quorum lease lapsed; proving leadership again", "term", term, "why", s.why,
			"seen", seen)
		return now
	}
	return time.Time{}
}
