package agent

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/internal/sdnotify"
)

// statusPeriod is how often the STATUS= line shown by `systemctl status` is
// recomputed; it is sent only when it changes.
const statusPeriod = time.Second

// service tells systemd (Type=notify, deploy/raftvip.service) how the agent
// is doing: READY=1 once the node is a member, STATUS= lines on role changes,
// WATCHDOG=1 while the reconciler makes progress, STOPPING=1 at shutdown.
// Outside systemd every call does nothing.
type service struct {
	n   *sdnotify.Notifier
	log *slog.Logger
	// readyCh is closed by ready (Agent.Ready).
	readyCh chan struct{}
}

// newService speaks to systemd through n; nil does nothing.
func newService(n *sdnotify.Notifier, log *slog.Logger) *service {
	if n == nil {
		n = &sdnotify.Notifier{}
	}
	return &service{n: n, log: log.With("component", "systemd"), readyCh: make(chan struct{})}
}

// ready: the node has bootstrapped, joined or resumed from its data dir, and
// the reconciler runs.
func (s *service) ready() {
	close(s.readyCh)
	s.send("ready", s.n.Ready())
}

// stopping: shutdown began; systemd no longer expects watchdog pings.
func (s *service) stopping() { s.send("stopping", s.n.Stopping()) }

// reloading and reloaded bracket a SIGHUP reload.
func (s *service) reloading() { s.send("reloading", s.n.Reloading()) }
func (s *service) reloaded()  { s.send("reloaded", s.n.Ready()) }

func (s *service) send(what string, err error) {
	if err != nil {
		s.log.Warn("notify systemd", "what", what, "err", err)
	}
}

// run feeds the watchdog and refreshes the status line until ctx ends, and
// returns when both loops have.
func (s *service) run(ctx context.Context, lastPass func() time.Time, statusOf func() cluster.Status) {
	if !s.n.Enabled() {
		return
	}
	// Apart, so that a slow Status (it waits for Raft's main loop) cannot
	// starve the watchdog, which must depend on the reconciler alone.
	var g group
	defer g.wait()
	g.start(func() error { s.runStatus(ctx, statusOf); return nil })
	if interval, ok := s.n.WatchdogInterval(); ok {
		s.runWatchdog(ctx, interval, lastPass)
	}
}

// runStatus sends a STATUS= line whenever the node's role changes.
func (s *service) runStatus(ctx context.Context, status func() cluster.Status) {
	tick := time.NewTicker(statusPeriod)
	defer tick.Stop()
	var shown string
	for {
		if line := statusLine(status()); line != shown {
			s.send("status", s.n.Status(line))
			shown = line
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// runWatchdog pings only while lastPass is recent (watchdogHealthy): a
// reconciler stuck in a kernel call stops the pings, and systemd restarts
// the agent.
func (s *service) runWatchdog(ctx context.Context, interval time.Duration, lastPass func() time.Time) {
	s.log.Info("systemd watchdog enabled", "interval", interval)
	// systemd's advice is to ping at half the interval; a quarter leaves room
	// for a late tick on a busy machine.
	tick := time.NewTicker(interval / 4)
	defer tick.Stop()
	wasStuck := false
	for {
		last := lastPass()
		healthy := watchdogHealthy(time.Now(), last, interval)
		if healthy {
			s.send("watchdog", s.n.Watchdog())
		} else if !wasStuck && !last.IsZero() {
			s.log.Error("reconciler made no pass recently: not feeding the systemd watchdog",
				"last_pass", last, "watchdog", interval)
		}
		wasStuck = !healthy
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// watchdogHealthy reports whether the watchdog may be fed: the reconciler's
// last pass is more recent than half the watchdog interval. It passes at
// least once a second (every min(lease/4, 1s) while it holds VIPs;
// netops.Reconciler.Run), so half of a WatchdogSec of several seconds is
// several missed passes. Before the first
// pass nothing is proven yet.
func watchdogHealthy(now, lastPass time.Time, interval time.Duration) bool {
	return !lastPass.IsZero() && now.Sub(lastPass) < interval/2
}

// statusLine is the one line `systemctl status` shows for the node.
func statusLine(st cluster.Status) string {
	role := strings.ToLower(string(st.State))
	switch {
	case st.Holder:
		return fmt.Sprintf("leader (term %d), holds %s", st.Term, cmp.Or(strings.Join(strs(st.VIPs), " "), "no VIPs (none configured)"))
	case st.State == cluster.RoleLeader:
		return fmt.Sprintf("leader (term %d), claim not committed yet: holds nothing", st.Term)
	case st.LeaderID != "":
		return fmt.Sprintf("%s of %s (term %d), holds nothing", role, st.LeaderID, st.Term)
	default:
		return fmt.Sprintf("%s (term %d), no leader known (no quorum?): holds nothing", role, st.Term)
	}
}
