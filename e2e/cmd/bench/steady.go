package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// Faults that should cost the client nothing: a follower restarting or
// stalling, the leader stalling for less than the leader lease. Nobody takes
// over, so a run watches for observe after the fault instead of waiting for a
// taker, and reports every outage window (windows).
const (
	observe      = 3 * time.Second
	freezeShort  = 70 * time.Millisecond  // below every profile's leader lease
	freezeMedium = 150 * time.Millisecond // a follower: below the heartbeat timeout of lan
)

var steadyScenarios = []scenario{
	{name: "restart-follower", steady: true, vips: 1,
		about: "a follower's daemon is stopped with SIGTERM and started again; nobody should take over",
		fault: func(ctx context.Context, e env, v int) error { return restart(ctx, e, follower(v)) }},
	{name: "freeze-follower", steady: true, vips: 1,
		about: "a follower's daemon is frozen for 150 ms (SIGSTOP, SIGCONT)",
		fault: func(_ context.Context, e env, v int) error { return freeze(e, follower(v), freezeMedium) }},
	{name: "freeze-leader-short", steady: true, vips: 1,
		about: "the leader's daemon is frozen for 70 ms (SIGSTOP, SIGCONT); must cost the client nothing",
		fault: func(_ context.Context, e env, v int) error { return freeze(e, v, freezeShort) }},
}

// follower is a node other than the leader v of a three-node lab.
func follower(v int) int { return v%3 + 1 }

func freeze(e env, i int, d time.Duration) error {
	pids := e.sys.pids(i)
	if err := signalAll(pids, syscall.SIGSTOP); err != nil {
		return err
	}
	time.Sleep(d)
	return signalAll(pids, syscall.SIGCONT)
}

// restarter is a system whose daemons the bench can start again.
type restarter interface {
	restart(ctx context.Context, i int) error
}

func restart(ctx context.Context, e env, i int) error {
	r, ok := e.sys.(restarter)
	if !ok {
		return errors.New("this system cannot restart a daemon")
	}
	if err := e.sys.stop(i); err != nil {
		return err
	}
	return r.restart(ctx, i)
}

// exited waits for p, node i's stopped daemon, to exit, as systemd waits
// before it starts a unit again; a nil p has nothing to wait for.
func exited(ctx context.Context, p *lab.Proc, i int) error {
	if p == nil {
		return nil
	}
	if err := probe.WaitFor(ctx, func() bool { return !p.Running() }, settle); err != nil {
		return fmt.Errorf("n%d did not exit: %w", i, err)
	}
	return nil
}

// restart waits for node i's agent to exit and starts it again, as systemd
// would after `systemctl restart`.
func (s *raftvipSys) restart(ctx context.Context, i int) error {
	if err := exited(ctx, s.c.Proc(i), i); err != nil {
		return err
	}
	_, err := s.c.Restart(ctx, i)
	return err
}

// formatWindows lists outage windows as offset:length, offsets from the
// fault.
func formatWindows(ws []probe.Window) string {
	if len(ws) == 0 {
		return "none"
	}
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%+dms:%dms", w.From.Milliseconds(), w.Length.Milliseconds())
	}
	return strings.Join(parts, " ")
}
