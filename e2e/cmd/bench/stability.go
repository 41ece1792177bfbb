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
	x, err := b.startLoaded(ctx, s, filepath.Join(b.cfg.out, "logs", s.kind+"-"+s.profile, "stability"), st.Hogs)
	if err != nil {
		return err
	}
	defer x.close()
	start := time.Now()
	w := leaderWatch{}
	for time.Since(start) < b.cfg.stability {
		w.poll(ctx, x.sys, x.lab.Nodes())
		time.Sleep(pollEvery)
	}
	st.Seconds = time.Since(start).Seconds()
	rep := x.probe.Stop()
	st.LeaderChanges, st.TermChanges = w.changes()
	st.VIPMoves = bench.HolderChanges(rep.States)
	st.DualHolderMs, st.OutageMs, st.Flaps = bench.MS(rep.DualHolder), bench.MS(rep.Outage), rep.Flaps
	return nil
}

// loaded is a cluster holding one VIP, the client probing it, with busy
// loops running in its lab: what the stability and disturbance runs watch.
type loaded struct {
	lab      *lab.Lab
	sys      system
	holder   int // the node that held the VIP when the client first reached it
	probe    *probe.Probe
	hogs     []*lab.Proc
	hogsFrom time.Time // just before the first hog started
}

// startLoaded starts s's cluster in a lab logging to dir, waits until the
// client reaches the holder, then starts hogs busy loops. The caller closes
// it.
func (b *benchRun) startLoaded(ctx context.Context, s spec, dir string, hogs int) (_ *loaded, err error) {
	l, err := b.labFor(ctx, s, dir)
	if err != nil {
		return nil, err
	}
	x := &loaded{lab: l}
	defer func() {
		if err != nil {
			x.close()
		}
	}()
	if err := l.StartResponders(ctx); err != nil {
		return nil, err
	}
	if x.sys, err = s.newSys(l); err != nil {
		return nil, err
	}
	vips := vipList(1)
	if x.holder, err = x.sys.start(ctx, vips); err != nil {
		return nil, err
	}
	x.probe = probe.Start(ctx, l, vips[0].Addr(), probe.Options{})
	if err := probe.WaitFor(ctx, func() bool { return x.probe.LastAnswer() == lab.NodeName(x.holder) }, 10*time.Second); err != nil {
		return nil, fmt.Errorf("the client never reached n%d: %w", x.holder, err)
	}
	x.hogsFrom = time.Now()
	for k := range hogs {
		h, err := l.StartNice(ctx, k%l.Nodes()+1, 0, hogArgv, nil) // a neighbour, not the agent
		if err != nil {
			return nil, err
		}
		x.hogs = append(x.hogs, h)
	}
	return x, nil
}

// close ends the hogs (by PID; the lab reaps them), the probe and the lab.
// The probe's report stays available from its Stop.
func (x *loaded) close() {
	for _, h := range x.hogs {
		_ = h.Signal(syscall.SIGKILL)
	}
	if x.probe != nil {
		x.probe.Stop()
	}
	closeLab(x.lab)
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
