package main

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// pollEvery is how often the stability watch asks every node for its leader.
const pollEvery = 250 * time.Millisecond

// hogArgv is a busy loop with no child process, so its PID is all there is
// to end.
var hogArgv = []string{"sh", "-c", "while :; do :; done"}

// stable watches an idle cluster of s for cfg.stability while one busy loop
// per CPU runs in the lab, and counts leadership changes and VIP moves.
func (b *benchRun) stable(ctx context.Context, s spec) bench.Stability {
	st := bench.Stability{System: s.kind, Profile: s.profile, Hogs: runtime.NumCPU()}
	b.say("\n== stability: %s, %d CPU hogs, %v", s.title(), st.Hogs, b.cfg.stability)
	if err := b.watchStable(ctx, s, &st); err != nil {
		st.Err = err.Error()
	}
	b.say("  %d leader changes, %d term changes, %d VIP moves, dual holder %.0f ms, longest outage %.0f ms %s",
		st.LeaderChanges, st.TermChanges, st.VIPMoves, st.DualHolderMs, st.OutageMs, st.Err)
	return st
}

func (b *benchRun) watchStable(ctx context.Context, s spec, st *bench.Stability) error {
	l, err := b.labFor(ctx, s, filepath.Join(b.cfg.out, "logs", s.kind+"-"+s.profile, "stability"))
	if err != nil {
		return err
	}
	defer closeLab(l)
	if err := l.StartResponders(ctx); err != nil {
		return err
	}
	sys, err := s.newSys(l)
	if err != nil {
		return err
	}
	vips := vipList(1)
	holder, err := sys.start(ctx, vips)
	if err != nil {
		return err
	}
	p := probe.Start(ctx, l, vips[0].Addr(), probe.Options{})
	defer p.Stop()
	if err := probe.WaitFor(ctx, func() bool { return p.LastAnswer() == lab.NodeName(holder) }, 10*time.Second); err != nil {
		return fmt.Errorf("the client never reached n%d: %w", holder, err)
	}
	var hogs []*lab.Proc
	defer func() {
		for _, h := range hogs {
			_ = h.Signal(syscall.SIGKILL) // by PID; the lab reaps it
		}
	}()
	for k := range st.Hogs {
		h, err := l.StartNice(ctx, k%l.Nodes()+1, 0, hogArgv, nil) // a neighbour, not the agent
		if err != nil {
			return err
		}
		hogs = append(hogs, h)
	}
	start := time.Now()
	w := leaderWatch{}
	for time.Since(start) < b.cfg.stability {
		w.poll(ctx, sys, l.Nodes())
		time.Sleep(pollEvery)
	}
	st.Seconds = time.Since(start).Seconds()
	rep := p.Stop()
	st.LeaderChanges, st.TermChanges = w.changes()
	st.VIPMoves = bench.HolderChanges(rep.States)
	st.DualHolderMs, st.OutageMs, st.Flaps = bench.MS(rep.DualHolder), bench.MS(rep.Outage), rep.Flaps
	return nil
}

// leaderWatch follows the leader and the highest term the nodes report.
type leaderWatch struct {
	leader          string
	term            uint64
	leaders, terms  int
	seen, supported bool
}

func (w *leaderWatch) poll(ctx context.Context, sys system, nodes int) {
	var leader string
	var term uint64
	for i := 1; i <= nodes; i++ {
		id, t, ok := sys.leader(ctx, i)
		if !ok {
			continue
		}
		w.supported = true
		if t > term || (t == term && leader == "") {
			leader, term = id, t
		}
	}
	if term == 0 {
		return
	}
	if w.seen && term > w.term {
		w.terms++
	}
	if w.seen && leader != "" && leader != w.leader {
		w.leaders++
	}
	if leader != "" {
		w.leader = leader
	}
	w.term, w.seen = max(w.term, term), true
}

// changes returns the counts, -1 each for a system without a leader view.
func (w *leaderWatch) changes() (leaders, terms int) {
	if !w.supported {
		return -1, -1
	}
	return w.leaders, w.terms
}
