package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// The schedule of the disturbance run (docs/benchmarks.md, "Disturbance
// run"): what a busy host sees in a bad hour, package upgrades restarting
// the daemon and stalls of a loaded VM, on the nodes that do not hold the
// VIP, which nobody should notice.
const (
	restartEvery = 30 * time.Second
	freezeEvery  = 20 * time.Second
	// freezeFor is freezeMedium, the freeze-follower scenario's.
	freezeFor = freezeMedium
)

// disturbed runs s's cluster for cfg.disturb under one CPU hog per CPU
// while the nodes without the VIP are restarted and frozen on the schedule
// of plan, and returns the figures and, when the probe ran, the timeline.
func (b *benchRun) disturbed(ctx context.Context, s spec) (bench.Disturbance, *bench.Group) {
	d := bench.Disturbance{System: s.kind, Profile: s.profile, Hogs: runtime.NumCPU()}
	b.say("\n== disturbance: %s, %d CPU hogs, %v: a follower restarted every %v, one frozen for %v every %v",
		s.title(), d.Hogs, b.cfg.disturb, restartEvery, freezeFor, freezeEvery)
	g, err := b.disturb(ctx, s, &d)
	if err != nil {
		d.Err = err.Error()
	}
	d.Judge()
	b.say("  %d restarts, %d freezes; %d holder changes; %d outages, %.0f ms in all, longest %.0f ms; %.2f%% of %d probes answered: %s %s",
		d.Restarts, d.Freezes, len(d.Moves), len(d.Outages), d.OutageTotalMs, d.LongestMs, d.AnsweredPct(), d.Probes, d.Verdict, d.Err)
	return d, g
}

// disturb is the body of a disturbance run. An action that fails ends the
// disturbing, but what the probe saw until then is still reported.
func (b *benchRun) disturb(ctx context.Context, s spec, d *bench.Disturbance) (*bench.Group, error) {
	x, err := b.startLoaded(ctx, s, filepath.Join(b.cfg.out, "logs", s.kind+"-"+s.profile, "disturb"), d.Hogs)
	if err != nil {
		return nil, err
	}
	defer x.close()
	actErr := b.act(ctx, x, d)
	rep := x.probe.Stop()
	if rep.Err != "" {
		return nil, errors.Join(actErr, errors.New(rep.Err))
	}
	start := x.hogsFrom.Sub(rep.Start)
	d.Seconds = (rep.Duration - start).Seconds()
	d.Observe(rep, start)
	var marks []bench.Mark
	for _, a := range d.Actions {
		if a.Err == "" {
			marks = append(marks, markOf(a))
		}
	}
	g := bench.GroupOf(s.title(), rep, start, x.lab.Nodes(), marks...)
	g.Marks[0].Label = "start"
	return &g, actErr
}

// act carries out plan(cfg.disturb) from x.hogsFrom on, then waits for the
// end of the run.
func (b *benchRun) act(ctx context.Context, x *loaded, d *bench.Disturbance) error {
	start := x.hogsFrom
	holders := []int{x.holder}
	last := map[string]int{} // the node each kind of action hit last
	for _, st := range plan(b.cfg.disturb) {
		if err := sleepUntil(ctx, start.Add(st.at)); err != nil {
			return err
		}
		holders = knownHolders(x.probe.LastState(), holders)
		node := nextTarget(x.lab.Nodes(), holders, last[st.kind])
		began := time.Now()
		a := bench.Action{AtMs: bench.MS(began.Sub(start)), Kind: st.kind, Node: lab.NodeName(node)}
		err := errors.New("every node holds the VIP")
		if node != 0 {
			err = hit(ctx, x.sys, st.kind, node)
		}
		a.TookMs = bench.MS(time.Since(began))
		if err != nil {
			a.Err = err.Error()
			d.Actions = append(d.Actions, a)
			return fmt.Errorf("%s of %s at %.1f s: %w", st.kind, a.Node, a.AtMs/1000, err)
		}
		d.Actions, last[st.kind] = append(d.Actions, a), node
		if st.kind == bench.Restart {
			d.Restarts++
		} else {
			d.Freezes++
		}
		b.say("  +%.1f s: %s %s, %.0f ms", a.AtMs/1000, a.Kind, a.Node, a.TookMs)
	}
	return sleepUntil(ctx, start.Add(b.cfg.disturb))
}

// hit restarts or freezes node i's daemon. A restart returns once the
// daemon is back among its peers where the system can tell: the next action
// may hit another node, and with three nodes two out at once is a lost
// quorum, which must drop the VIPs; that would measure a double fault, not
// the disturbance.
func hit(ctx context.Context, sys system, kind string, i int) error {
	e := env{sys: sys}
	switch kind {
	case bench.Restart:
		if err := restart(ctx, e, i); err != nil {
			return err
		}
		if r, ok := sys.(rejoiner); ok {
			return r.rejoined(ctx, i)
		}
		return nil
	case bench.Freeze:
		return freeze(e, i, freezeFor)
	}
	return fmt.Errorf("unknown action %q", kind)
}

// rejoiner is a system whose restarted daemon takes a while to rejoin its
// peers and that can tell when it has. keepalived is not one: a BACKUP
// needs no peer to be one.
type rejoiner interface {
	rejoined(ctx context.Context, i int) error
}

// rejoined waits until node i's agent follows a leader again: the leader's
// heartbeats reach it, so it counts towards the leader's quorum proofs.
func (s *raftvipSys) rejoined(ctx context.Context, i int) error {
	return probe.Until(ctx, fmt.Sprintf("n%d follows a leader again", i), settle, func() error {
		ctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		st, err := s.c.StatusOf(ctx, i)
		if err == nil && st.LeaderID == "" {
			err = errors.New("no leader known")
		}
		return err
	})
}

// step is one planned action, due at offset at from the run's start.
type step struct {
	at   time.Duration
	kind string
}

// plan lists the steps of a run of length d in order: a restart every
// restartEvery and a freeze every freezeEvery, the first of each one period
// in, none at the end, where no time would be left to watch it. A restart
// and a freeze due together come restart first: they are done one after the
// other, never at once.
func plan(d time.Duration) []step {
	var out []step
	for t := restartEvery; t < d; t += restartEvery {
		out = append(out, step{at: t, kind: bench.Restart})
	}
	for t := freezeEvery; t < d; t += freezeEvery {
		out = append(out, step{at: t, kind: bench.Freeze})
	}
	slices.SortStableFunc(out, func(a, b step) int { return cmp.Compare(a.at, b.at) })
	return out
}

// knownHolders is the holders of the latest readable sample that shows any,
// else prev: during an outage, the node that held the VIP last is still the
// one to spare.
func knownHolders(s probe.State, prev []int) []int {
	if s.Err != "" || len(s.Holders) == 0 {
		return prev
	}
	return s.Holders
}

// nextTarget picks, among nodes 1..n that do not hold the VIP, the first
// after last, wrapping around, so that successive picks go round them; 0
// when no holder is known (any node might be about to claim) or every node
// holds it.
func nextTarget(n int, holders []int, last int) int {
	if len(holders) == 0 {
		return 0
	}
	for k := 1; k <= n; k++ {
		if i := (last+k-1)%n + 1; !slices.Contains(holders, i) {
			return i
		}
	}
	return 0
}

// markOf is an action's mark on the timeline: "R2" for a restart of n2,
// "F3" for a freeze of n3, short enough for marks 10 s apart on a 10-minute
// axis.
func markOf(a bench.Action) bench.Mark {
	return bench.Mark{
		At:    time.Duration(a.AtMs * float64(time.Millisecond)),
		Label: strings.ToUpper(a.Kind[:1]) + strings.TrimPrefix(a.Node, "n"),
	}
}

// sleepUntil waits until t or the end of ctx.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// disturbLabels are the words of the disturbance timeline.
func disturbLabels() bench.Labels {
	return bench.Labels{
		Marks: fmt.Sprintf("red line = start (CPU hogs on); purple: R2 = n2 restarted, F3 = n3 frozen %v", freezeFor),
		Axis:  "time since the start of the run",
	}
}
