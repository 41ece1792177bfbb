package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// system is one system under test, running in one lab.
type system interface {
	// start starts the daemons on every node with vips and returns the node
	// that holds all of them once exactly one does.
	start(ctx context.Context, vips []netip.Prefix) (int, error)
	// pids lists every process of node i's daemon, children first.
	pids(i int) []int
	// stop stops node i's daemon gracefully (SIGTERM).
	stop(i int) error
	// move moves the VIPs off node i gracefully.
	move(ctx context.Context, i int) error
	// takeover reads the daemon's own figures of a takeover by node i after
	// fault from its log; nil when the system logs none.
	takeover(i int, fault time.Time) *bench.DaemonTimes
	// leader is node i's view of the leader and term, for the stability
	// count; ok is false when the system has no such view.
	leader(ctx context.Context, i int) (id string, term uint64, ok bool)
}

// spec names a system and profile, and makes its system for a lab.
type spec struct {
	kind, profile string
	// maxWait bounds the wait for a takeover and for one holder after it.
	maxWait time.Duration
	newSys  func(l *lab.Lab) (system, error)
}

func (s spec) title() string { return s.kind + ", " + s.profile + " profile" }

func specNames(specs []spec) string {
	var out []string
	for _, s := range specs {
		out = append(out, s.kind+"/"+s.profile)
	}
	return strings.Join(out, ", ")
}

// timeouts of the harness; only bounds of waits, never asserted.
const (
	settle     = 30 * time.Second
	apiTimeout = time.Second
)

func raftvipSpec(profile, bin string) spec {
	return spec{kind: bench.Raftvip, profile: profile, maxWait: 6 * time.Second,
		newSys: func(l *lab.Lab) (system, error) {
			c, err := rig.New(l, bin, "-timing", profile)
			return &raftvipSys{l: l, c: c}, err
		}}
}

// raftvipSys runs raftvip agents through the e2e rig.
type raftvipSys struct {
	l *lab.Lab
	c *rig.Cluster
}

func (s *raftvipSys) start(ctx context.Context, vips []netip.Prefix) (int, error) {
	args := []string{"-bootstrap"}
	for _, v := range vips {
		args = append(args, "-vip", v.String())
	}
	if _, err := s.c.Start(ctx, 1, args...); err != nil {
		return 0, err
	}
	if err := waitFor(ctx, "n1 holds /v1/leader", func() error { return s.holder(ctx, 1) }); err != nil {
		return 0, err
	}
	for i := 2; i <= 3; i++ {
		if _, err := s.c.Start(ctx, i, "-join", s.c.JoinAddrs(i)); err != nil {
			return 0, err
		}
	}
	err := waitFor(ctx, "three voters following n1", func() error {
		for i := 1; i <= 3; i++ {
			st, err := s.status(ctx, i)
			if err != nil {
				return err
			}
			if st.LeaderID != "n1" || len(st.Members) != 3 {
				return fmt.Errorf("n%d: leader %q, %d members", i, st.LeaderID, len(st.Members))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return 1, waitHeld(ctx, s.l, vips, 1)
}

func (s *raftvipSys) holder(ctx context.Context, i int) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	code, _, err := s.c.LeaderOf(ctx, i)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("n%d /v1/leader: HTTP %d", i, code)
	}
	return err
}

func (s *raftvipSys) status(ctx context.Context, i int) (rig.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	return s.c.StatusOf(ctx, i)
}

func (s *raftvipSys) pids(i int) []int {
	if p := s.c.Proc(i); p != nil && p.Running() {
		return []int{p.PID()}
	}
	return nil
}

func (s *raftvipSys) stop(i int) error { return signalAll(s.pids(i), syscall.SIGTERM) }

// move hands leadership to the most up-to-date follower (`raftvip
// transfer`), which claims and binds the VIPs; i must be the leader.
func (s *raftvipSys) move(ctx context.Context, i int) error {
	_, err := s.c.CLI(ctx, i, "transfer")
	return err
}

func (s *raftvipSys) takeover(i int, fault time.Time) *bench.DaemonTimes {
	f, err := os.Open(s.l.LogPath(i))
	if err != nil {
		return nil
	}
	defer f.Close()
	lines, err := bench.ParseLog(f)
	if err != nil {
		return nil
	}
	d, ok := bench.Takeover(lab.NodeName(i), lines, fault)
	if !ok {
		return nil
	}
	return &d
}

func (s *raftvipSys) leader(ctx context.Context, i int) (string, uint64, bool) {
	st, err := s.status(ctx, i)
	if err != nil {
		return "", 0, false
	}
	return st.LeaderID, st.Term, true
}

// waitHeld waits until node i alone holds every VIP of vips.
func waitHeld(ctx context.Context, l *lab.Lab, vips []netip.Prefix, i int) error {
	return waitFor(ctx, fmt.Sprintf("n%d holds all %d VIPs", i, len(vips)), func() error {
		// The last VIP is bound last; check it first, then the others.
		for j := len(vips) - 1; j >= 0; j-- {
			h, err := l.HoldersOf(vips[j].Addr())
			if err != nil {
				return err
			}
			if !slices.Equal(h, []int{i}) {
				return fmt.Errorf("%s held by %v", vips[j], h)
			}
		}
		return nil
	})
}

// waitFor polls check until it returns nil, for at most settle.
func waitFor(ctx context.Context, what string, check func() error) error {
	var last error
	err := probe.WaitFor(ctx, func() bool { last = check(); return last == nil }, settle)
	if err != nil {
		return fmt.Errorf("%s: %w (last: %v)", what, err, last)
	}
	return nil
}

// signalAll sends sig to every PID, and returns the errors of those still
// there.
func signalAll(pids []int, sig syscall.Signal) error {
	if len(pids) == 0 {
		return errors.New("no process to signal")
	}
	var errs []error
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill -%d %d: %w", sig, pid, err))
		}
	}
	return errors.Join(errs...)
}
