package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// Phases of a failover run; bounds and pauses of the harness, not figures.
const (
	preRoll = 300 * time.Millisecond  // answers before the fault
	tail    = 500 * time.Millisecond  // after one node alone holds the VIP
	post    = 1500 * time.Millisecond // after the recovery (heal, SIGCONT)
	// jitter is the span of a random extra wait before the fault, so that it
	// falls at a random phase of keepalived's adverts (1 s by default) and
	// of Raft's heartbeats; without it every run hit the same phase.
	jitter = time.Second
)

// failover runs scenario sc once on a fresh lab with system s, and returns
// its figures and, when it worked, its timeline.
func (b *benchRun) failover(ctx context.Context, s spec, sc scenario, idx int) (bench.Run, *bench.Group) {
	r := bench.Run{System: s.kind, Profile: s.profile, Scenario: sc.name, Index: idx, TakeoverMs: -1}
	dir := filepath.Join(b.cfg.out, "logs", s.kind+"-"+s.profile, sc.name, fmt.Sprintf("run%02d", idx))
	l, err := b.labFor(ctx, s, dir)
	if err != nil {
		r.Err = err.Error()
		return r, nil
	}
	defer func() {
		if err := closeLab(l); err != nil {
			b.say("  cleanup: %v", err)
		}
	}()
	g, err := b.measure(ctx, l, s, sc, &r)
	if err != nil {
		r.Err = fmt.Sprintf("%v (logs in %s)", err, dir)
		return r, nil
	}
	return r, g
}

// measure is the body of one run: start, probe, fault, wait, recover.
func (b *benchRun) measure(ctx context.Context, l *lab.Lab, s spec, sc scenario, r *bench.Run) (*bench.Group, error) {
	if err := l.StartResponders(ctx); err != nil {
		return nil, err
	}
	sys, err := s.newSys(l)
	if err != nil {
		return nil, err
	}
	vips, probed := sc.addrs()
	r.VIPs = len(vips)
	victim, err := sys.start(ctx, vips)
	if err != nil {
		return nil, err
	}
	r.Victim = lab.NodeName(victim)
	p := probe.Start(ctx, l, probed, probe.Options{})
	defer p.Stop()
	if err := probe.WaitFor(ctx, func() bool { return p.LastAnswer() == r.Victim }, 10*time.Second); err != nil {
		return nil, fmt.Errorf("the client never reached %s: %w", r.Victim, err)
	}
	time.Sleep(preRoll + rand.N(jitter))

	fault := time.Now()
	if err := sc.fault(ctx, env{lab: l, sys: sys}, victim); err != nil {
		return nil, fmt.Errorf("fault: %w", err)
	}
	if sc.steady {
		time.Sleep(observe)
	} else {
		settled(ctx, p, victim, fault.Add(s.maxWait))
	}
	var recovered time.Time
	if sc.recover != nil {
		recovered = time.Now()
		if err := sc.recover(ctx, env{lab: l, sys: sys}, victim); err != nil {
			return nil, fmt.Errorf("recovery: %w", err)
		}
		time.Sleep(post)
	}
	rep := p.Stop()
	if rep.Err != "" {
		return nil, errors.New(rep.Err)
	}
	faultAt := fault.Sub(rep.Start)
	fill(r, rep, faultAt)
	b.say("  %s run %d: outage windows after the fault (offset:length): %s", sc.name, r.Index,
		formatWindows(bench.OutagesAfter(rep, faultAt)))
	if !recovered.IsZero() {
		at := recovered.Sub(rep.Start)
		outages, switches := bench.AfterRecovery(rep, at)
		r.Recovery, r.RecoveryMs, r.AfterRecoverySwitches = sc.recovery, bench.MS(recovered.Sub(fault)), switches
		r.AfterRecoveryOutages = len(outages)
		for _, w := range outages {
			r.AfterRecoveryLongestMs = max(r.AfterRecoveryLongestMs, bench.MS(w.Length))
		}
		b.say("  %s run %d: after the recovery (%s at %+.0f ms): outages %s, answering node changes %d", sc.name, r.Index,
			sc.recovery, r.RecoveryMs, formatWindows(outages), switches)
	}
	if n := lab.NodeIndex(r.Taker); n > 0 {
		r.Daemon = daemonTimes(ctx, sys, n, fault, len(vips))
	}
	var marks []bench.Mark
	if !recovered.IsZero() {
		marks = append(marks, bench.Mark{At: recovered.Sub(fault), Label: sc.recovery})
	}
	g := bench.GroupOf(s.title(), rep, faultAt, l.Nodes(), marks...)
	return &g, nil
}

// logWait bounds the wait for the new holder to log every VIP bound and
// announced, after the probe stopped: with many VIPs the last announcements
// can come after the run's tail.
const logWait = 10 * time.Second

// daemonTimes reads the takeover by node n from its log once it shows all
// vips VIPs bound and announced, or what it shows after logWait; nil for a
// system that logs none.
func daemonTimes(ctx context.Context, sys system, n int, fault time.Time, vips int) *bench.DaemonTimes {
	var d *bench.DaemonTimes
	_ = probe.WaitFor(ctx, func() bool { // a timeout leaves the counts short: a figure, not an error
		d = sys.takeover(n, fault)
		return d == nil || d.Complete(vips)
	}, logWait)
	return d
}

// settled waits until another node answers the client and then holds the
// VIP alone, plus a tail, or until deadline.
func settled(ctx context.Context, p *probe.Probe, victim int, deadline time.Time) {
	wait := func(cond func() bool) {
		if d := time.Until(deadline); d > 0 {
			_ = probe.WaitFor(ctx, cond, d) // a timeout is a figure, not an error
		}
	}
	var taker int
	wait(func() bool {
		taker = lab.NodeIndex(p.LastAnswer())
		return taker != 0 && taker != victim
	})
	wait(func() bool { return slices.Equal(p.LastState().Holders, []int{taker}) })
	time.Sleep(tail)
}

// fill computes the run's figures from the probe report; faultAt is the
// fault's offset from the probe's start.
func fill(r *bench.Run, rep probe.Report, faultAt time.Duration) {
	r.OutageMs = bench.MS(rep.Outage)
	r.Unrecovered = rep.Unrecovered
	r.DualHolderMs = bench.MS(rep.DualHolder)
	r.NoHolderMs = bench.MS(rep.NoHolder)
	r.Flaps = rep.Flaps
	r.WindowMs = bench.MS(rep.Duration - faultAt)
	for _, d := range rep.Dials {
		if d.At >= faultAt && d.Err == "" && d.Node != r.Victim {
			r.Taker, r.TakeoverMs = d.Node, bench.MS(d.At+d.Took-faultAt)
			break
		}
	}
	for i := len(rep.States) - 1; i >= 0; i-- {
		if s := rep.States[i]; s.Err == "" {
			r.DualHolderToEnd = len(s.Holders) >= 2
			break
		}
	}
}
