package cluster

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// watch is Run's memory between passes: what it last saw, and the
// establishment running for the current leadership term, if any.
type watch struct {
	state       raft.RaftState
	term        uint64
	leaderID    raft.ServerID
	est         *establishment
	seedChecked bool
	// reports are the health reports in flight (reportHealth).
	reports sync.WaitGroup
	// noLeader is when this node last saw no leader begin; leaderless is
	// true once that was reported as lost quorum.
	noLeader   time.Time
	leaderless bool
	// removed is true while this node is out of the Raft configuration.
	removed bool
}

// establishment is one run of establish, and of keepLease beside it, for one
// leadership term. It owns both goroutines: stop ends and waits for them.
type establishment struct {
	term   uint64
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startEstablishment starts establish and keepLease for term.
func (n *Node) startEstablishment(ctx context.Context, term uint64) *establishment {
	ectx, cancel := context.WithCancel(ctx)
	e := &establishment{term: term, cancel: cancel}
	e.wg.Go(func() { n.keepLease(ectx, term) })
	e.wg.Go(func() { n.establish(ectx, term) })
	return e
}

func (e *establishment) stop() {
	if e != nil {
		e.cancel()
		e.wg.Wait()
	}
}

// Run follows Raft leadership until ctx is done, then returns nil. Each pass
// re-reads raft's state rather than trusting the event that woke it: raft drops
// observations when nobody listens and LeaderCh keeps only the latest
// transition, so events only say "look again", and a ticker looks anyway
// (stepEvery).
// When this node is leader in a term it has not claimed yet, Run starts
// establish for that term; losing leadership or ctx cancels it. Every
// goroutine Run starts has ended when it returns.
func (n *Node) Run(ctx context.Context) error {
	period := stepEvery(n.cfg.Timing, true)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var w watch
	var peers sync.WaitGroup
	defer func() {
		w.est.stop()
		w.reports.Wait()
		peers.Wait()
	}()
	pctx, stopPeers := context.WithCancel(ctx)
	defer stopPeers()
	peers.Go(func() { n.watchPeers(pctx, n.peerEvents) })
	peers.Go(func() { watchContact(pctx, n.raft, n.cfg.Timing, n.log) })
	if n.warm != nil {
		peers.Go(func() { n.warm.keep(pctx, n.peerAddrs) })
	}
	poked := true
	for {
		due := n.step(ctx, &w, poked)
		poked = false
		if p := stepEvery(n.cfg.Timing, due); p != period {
			period = p
			tick.Reset(p)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-n.observed:
			poked = true
		case <-n.runPoke:
		case <-tick.C:
		}
	}
}

// stepEvery is how often Run looks again when nothing wakes it. Raft's
// observations wake it for leadership and the leader, SetHealth for this
// node's health, and the quorum lease and the handover loop keep their own
// timers; the ticker only paces what has no event: the retry of a failed
// health report (a second after it failed), the warning that no leader is
// known (after leaderlessAfter election timeouts), the seed check, noticing
// removal from the configuration, and a term that changed under the same
// leader. Once a second is soon enough for those, and an idle node then
// wakes once a second for Run rather than every half heartbeat (10 times a
// second with lan, 20 with fast). While this node's health or links are not
// yet in the replicated state (reportDue: a node that has just started or
// joined), Run looks every half heartbeat, as the leader checks a VIP's
// interface against the links members reported (`vip add -interface`), and
// a member it has not heard from yet cannot be checked.
func stepEvery(t Timing, reportDue bool) time.Duration {
	if reportDue {
		return max(t.Heartbeat/2, time.Millisecond)
	}
	return max(t.Heartbeat/2, time.Second)
}

// step is one pass of Run. It reports whether this node's health report is
// still due (reportHealth).
func (n *Node) step(ctx context.Context, w *watch, poked bool) bool {
	state := n.raft.State()
	term := n.raft.CurrentTerm()
	_, leaderID := n.raft.LeaderWithID()
	if state != w.state || leaderID != w.leaderID {
		n.log.Info("raft state", "state", state, "term", term, "leader", leaderID)
	}
	if leaderID != w.leaderID && leaderID != "" {
		n.counters.leaderChanges.Add(1)
	}
	if poked || state != w.state || term != w.term || leaderID != w.leaderID {
		n.changed()
	}
	w.state, w.term, w.leaderID = state, term, leaderID
	n.watchQuorum(w, time.Now())
	w.removed = n.noteRemoved(w.removed)

	if state != raft.Leader {
		w.est.stop()
		w.est = nil
	} else if w.est == nil || w.est.term != term {
		w.est.stop()
		w.est = n.startEstablishment(ctx, term)
	}
	// The seed check waits for the FSM to catch up; the ticker brings it
	// round often enough for a one-time warning, so applies need not wake Run.
	if !w.seedChecked {
		w.seedChecked = n.checkSeeds()
	}
	return n.reportHealth(ctx, &w.reports)
}

// watchQuorum says loudly, once, when no leader has been known for longer than
// a few elections take: no node holds the VIPs then (docs/design.md, "The
// promise and the fault model"), and raft's own lines (a rising term, "starting
// election") do not say so.
func (n *Node) watchQuorum(w *watch, now time.Time) {
	if w.leaderID != "" || w.state == raft.Shutdown {
		if w.leaderless {
			n.log.Info("a leader is known again", "leader", w.leaderID, "term", w.term,
				"after", now.Sub(w.noLeader).Round(time.Millisecond))
		}
		w.noLeader, w.leaderless = time.Time{}, false
		return
	}
	if w.noLeader.IsZero() {
		w.noLeader = now
	}
	if !w.leaderless && now.Sub(w.noLeader) > leaderlessAfter*n.cfg.Timing.Election && n.isMember() {
		w.leaderless = true
		n.log.Error("no leader: no node holds the VIPs; a majority of the voters is down or unreachable, "+
			"or elections keep failing", "for", now.Sub(w.noLeader).Round(time.Millisecond), "term", w.term)
	}
}

// isMember reports whether this node is in its own Raft configuration: a
// node still waiting to be joined has no leader and no quorum to lose.
func (n *Node) isMember() bool {
	_, ok := n.server(n.cfg.ID)
	return ok
}

// leaderlessAfter is how many election timeouts without a leader count as
// lost quorum: a healthy cluster elects within one or two.
const leaderlessAfter = 5

// establish makes this leader the VIP owner for term: the claim, which proves
// a majority in this term once committed, and once applied means the FSM has
// applied everything earlier leaders committed (docs/design.md, "Claim, then
// bind"). If that fails while it is still leader, it hands leadership to a
// node that may do better, as Consul and Nomad do, and retries if even that
// fails.
func (n *Node) establish(ctx context.Context, term uint64) {
	n.health.mu.Lock()
	clear(n.health.unreachable) // another term's observations
	n.health.mu.Unlock()
	if n.handOverUnclaimed(ctx, term) {
		return
	}
	if n.cfg.Witness {
		n.leadAsWitness(ctx, term)
		return
	}
	for {
		err := n.claim(ctx, term)
		if err == nil {
			n.afterClaim(ctx)
			n.handover(ctx, term)
			return
		}
		if ctx.Err() != nil || errors.Is(err, ErrNotLeader) || n.lostLeadership(term) {
			n.log.Info("leadership lost before the claim committed", "term", term, "err", err)
			return
		}
		n.log.Error("cannot establish leadership; handing it over", "term", term, "err", err)
		err = n.await(ctx, n.raft.LeadershipTransfer)
		if err == nil || ctx.Err() != nil {
			return
		}
		n.log.Warn("leadership transfer failed; claiming again", "term", term, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(n.cfg.Timing.Heartbeat):
		}
	}
}

func (n *Node) lostLeadership(term uint64) bool {
	return n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term
}

// claim commits fsm.Claim for term. It is one log entry, with no barrier in
// front of it: raft answers an Apply only once the FSM has applied the entry,
// and it applies in log order, so a committed claim already means that the
// FSM has applied everything earlier leaders committed, which is all a
// barrier would add, for one more write on the leader (docs/design.md,
// "Claim, then bind").
func (n *Node) claim(ctx context.Context, term uint64) error {
	started := time.Now()
	if err := n.Apply(ctx, n.claimCommand(term, started)); err != nil {
		return err
	}
	// The commit is a quorum's acknowledgement: the VIPs can move now rather
	// than at keepLease's next verification.
	n.lease.confirm(term, started)
	n.changed()
	n.log.Info("claimed the VIPs", "term", term)
	return nil
}

// claimCommand is fsm.Claim with the timing operators see in status: when,
// and how long since this node last heard from the previous leader (raft
// does not update that contact while candidate or leader). The first leader
// of a new cluster heard from nobody and reports no takeover time.
func (n *Node) claimCommand(term uint64, now time.Time) fsm.Command {
	c := fsm.Claim(n.cfg.ID, term)
	c.At = now.UnixMilli()
	if last := n.raft.LastContact(); !last.IsZero() && n.fsm.Owner().Node != "" {
		c.Takeover = max(now.Sub(last).Milliseconds(), 0)
	}
	return c
}

// afterClaim records this node's API address and seeds the VIP set. It runs
// after the claim so that these writes never delay the VIPs' move.
func (n *Node) afterClaim(ctx context.Context) {
	st := n.fsm.State()
	if n.cfg.APIAddr != "" && st.Members[n.cfg.ID].APIAddr != n.cfg.APIAddr {
		if err := n.Apply(ctx, fsm.SetMember(n.cfg.ID, n.cfg.APIAddr)); err != nil {
			n.log.Warn("cannot record this node's API address", "api_addr", n.cfg.APIAddr, "err", err)
		}
	}
	if len(n.cfg.SeedVIPs) > 0 && !st.Seeded {
		if err := n.Apply(ctx, fsm.SeedVIPs(n.cfg.SeedVIPs)); err != nil {
			n.log.Warn("cannot seed the VIP set", "vips", n.cfg.SeedVIPs, "err", err)
		} else {
			n.log.Info("seeded the cluster's VIP set", "vips", n.cfg.SeedVIPs)
		}
	}
}

// checkSeeds warns once if this node's -vip flags differ from the cluster's
// VIP set. It waits until the FSM is seeded and has applied the local log and
// what the leader reported committed, so that a half-replayed state does not
// raise a false alarm. It reports whether the check is done.
func (n *Node) checkSeeds() bool {
	if len(n.cfg.SeedVIPs) == 0 {
		return true
	}
	st := n.fsm.State()
	applied := n.raft.AppliedIndex()
	if !st.Seeded || applied < n.openIndex || applied < n.raft.CommitIndex() {
		return false
	}
	if !sameVIPs(n.cfg.SeedVIPs, st.VIPs) {
		n.log.Warn("-vip flags differ from the cluster's VIP set; the cluster's set wins; "+
			"change it with `raftvip vip add/rm`", "flags", n.cfg.SeedVIPs, "cluster", st.VIPs)
	}
	return true
}

// sameVIPs reports whether a and b hold the same VIPs, in any order.
func sameVIPs(a, b []fsm.VIP) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, compareVIPs)
	slices.SortFunc(b, compareVIPs)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// compareVIPs orders VIPs by address, then by every other field, so that
// sorting gives one order for one set.
func compareVIPs(x, y fsm.VIP) int {
	return cmp.Or(x.Prefix.Addr().Compare(y.Prefix.Addr()), x.Prefix.Bits()-y.Prefix.Bits(),
		strings.Compare(x.Interface, y.Interface), strings.Compare(x.Label, y.Label))
}
