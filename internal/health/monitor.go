package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// ErrRunning is returned by Run when the monitor is already running.
var ErrRunning = errors.New("health monitor is already running")

// MonitorConfig holds a Monitor's collaborators. All fields are optional.
type MonitorConfig struct {
	Logger *slog.Logger
	// OnChange is called on Run's goroutine once when Run starts and then
	// whenever the report's Healthy, Pending or Failing changes. Changes are
	// coalesced: changes made while OnChange runs lead to one later call
	// with the latest report, so a slow OnChange never delays the probes.
	// Run does not return while OnChange runs, so it must not block for long.
	OnChange func(Report)
	// NewProber builds a check's prober; nil means NewProber. Tests inject
	// fakes here.
	NewProber func(Check) (Prober, error)
}

// Monitor runs a set of checks, each on its own interval, and keeps their
// rise/fall state.
type Monitor struct {
	log       *slog.Logger
	onChange  func(Report)
	newProber func(Check) (Prober, error)
	changed   chan struct{} // 1-buffered: a verdict changed, coalesced

	mu     sync.Mutex
	checks []*entry // in config order
	run    *run     // non-nil while Run runs
}

// entry is one check and its state. check and prober never change; a new
// definition gets a new entry.
type entry struct {
	check  Check
	prober Prober

	// Guarded by Monitor.mu.
	state   streak
	lastErr string
	lastRun time.Time
	cancel  context.CancelFunc // stops the probe loop; nil until started
}

// run is what Run shares with Update while it runs.
type run struct {
	ctx context.Context
	wg  sync.WaitGroup
}

// NewMonitor prepares checks (Prepare) and builds their probers.
// It starts nothing: call Run.
func NewMonitor(checks []Check, cfg MonitorConfig) (*Monitor, error) {
	m := &Monitor{
		log:       cfg.Logger,
		onChange:  cfg.OnChange,
		newProber: cfg.NewProber,
		changed:   make(chan struct{}, 1),
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.newProber == nil {
		m.newProber = NewProber
	}
	entries, err := m.prepare(checks)
	if err != nil {
		return nil, err
	}
	m.checks = entries
	return m, nil
}

// prepare defaults and validates checks and builds an entry for each.
func (m *Monitor) prepare(checks []Check) ([]*entry, error) {
	full, err := Prepare(checks)
	if err != nil {
		return nil, err
	}
	entries := make([]*entry, len(full))
	for i, c := range full {
		p, err := m.newProber(c)
		if err != nil {
			return nil, fmt.Errorf("check %q: %w", c.Name, err)
		}
		entries[i] = &entry{check: c, prober: p}
	}
	return entries, nil
}

// Run probes every check at once and then every interval until ctx is
// cancelled, then waits for the probes in flight and returns nil. It returns
// ErrRunning if the monitor is already running.
func (m *Monitor) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{ctx: ctx}
	m.mu.Lock()
	if m.run != nil {
		m.mu.Unlock()
		return ErrRunning
	}
	m.run = r
	for _, e := range m.checks {
		m.start(e)
	}
	m.mu.Unlock()

	m.notify(ctx)

	m.mu.Lock()
	m.run = nil // from here on Update starts no loop that Wait could miss
	m.mu.Unlock()
	r.wg.Wait()
	return nil
}

// start runs e's probe loop. m.mu must be held and m.run set.
func (m *Monitor) start(e *entry) {
	ctx, cancel := context.WithCancel(m.run.ctx)
	e.cancel = cancel
	m.run.wg.Go(func() { m.loop(ctx, e) })
}

func (m *Monitor) loop(ctx context.Context, e *entry) {
	tick := time.NewTicker(e.check.Interval)
	defer tick.Stop()
	for {
		err := e.prober.Probe(ctx)
		m.record(ctx, e, err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// record applies one probe result to e and logs a change of verdict.
func (m *Monitor) record(ctx context.Context, e *entry, err error) {
	m.mu.Lock()
	// A cancelled probe says nothing about the service, and a check removed
	// by Update (which cancels under m.mu) must not be touched.
	if ctx.Err() != nil {
		m.mu.Unlock()
		return
	}
	before := e.state
	e.state = e.state.observe(err == nil, e.check.Rise, e.check.Fall)
	e.lastRun = time.Now()
	e.lastErr = ""
	if err != nil {
		e.lastErr = err.Error()
	}
	after := e.state
	m.mu.Unlock()

	if err != nil {
		m.log.Debug("health probe failed", "check", e.check.Name, "error", err, "failures", after.failures)
	}
	if before.verdict == after.verdict {
		return
	}
	m.logChange(e.check, before.verdict, after, err)
	m.poke()
}

func (m *Monitor) logChange(c Check, from verdict, to streak, err error) {
	attrs := []any{"check", c.Name, "kind", c.Kind()}
	switch {
	case to.verdict == failing:
		m.log.Warn("health check failing", append(attrs, "reason", err, "failures", to.failures)...)
	case from == failing:
		m.log.Info("health check recovered", append(attrs, "successes", to.successes)...)
	default:
		m.log.Info("health check healthy", attrs...)
	}
}

func (m *Monitor) poke() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// notify calls OnChange with the first report and then whenever the verdict
// changed, until ctx is cancelled.
func (m *Monitor) notify(ctx context.Context) {
	var last *Report
	for {
		if r := m.Report(); m.onChange != nil && (last == nil || !sameVerdict(*last, r)) {
			m.onChange(r)
			last = &r
		}
		select {
		case <-ctx.Done():
			return
		case <-m.changed:
		}
	}
}

// Report returns the node's health now. It is safe for concurrent use.
func (m *Monitor) Report() Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	checks := make([]CheckStatus, len(m.checks))
	for i, e := range m.checks {
		checks[i] = CheckStatus{
			Name:      e.check.Name,
			Kind:      e.check.Kind(),
			Healthy:   e.state.verdict == healthy,
			Pending:   e.state.verdict == pending,
			LastError: e.lastErr,
			LastRun:   e.lastRun,
			Successes: e.state.successes,
			Failures:  e.state.failures,
		}
	}
	return summarize(checks)
}

// Update replaces the set of checks (a SIGHUP reload) without stopping the
// monitor. A check whose name and definition are unchanged keeps its state
// and schedule; a new or changed one starts pending. If checks are invalid,
// Update returns the error and the old set keeps running.
func (m *Monitor) Update(checks []Check) error {
	fresh, err := m.prepare(checks)
	if err != nil {
		return err
	}
	m.mu.Lock()
	old := make(map[string]*entry, len(m.checks))
	for _, e := range m.checks {
		old[e.check.Name] = e
	}
	kept := 0
	for i, e := range fresh {
		if o := old[e.check.Name]; o != nil && o.check == e.check {
			fresh[i] = o
			delete(old, e.check.Name)
			kept++
		} else if m.run != nil {
			m.start(e)
		}
	}
	for _, o := range old {
		if o.cancel != nil {
			o.cancel()
		}
	}
	m.checks = fresh
	m.mu.Unlock()

	m.log.Info("health checks updated", "checks", len(fresh), "kept", kept, "started", len(fresh)-kept, "stopped", len(old))
	m.poke()
	return nil
}
