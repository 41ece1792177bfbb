package health

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// fakeProber returns whatever result the test set last, and counts probes.
type fakeProber struct {
	mu    sync.Mutex
	err   error
	calls int
	block bool // Probe waits for ctx, then takes another second
	done  bool // a blocking Probe has returned
}

func (p *fakeProber) Probe(ctx context.Context) error {
	p.mu.Lock()
	p.calls++
	err, block := p.err, p.block
	p.mu.Unlock()
	if block {
		<-ctx.Done()
		time.Sleep(time.Second)
		p.mu.Lock()
		p.done = true
		p.mu.Unlock()
		return ctx.Err()
	}
	return err
}

func (p *fakeProber) set(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

func (p *fakeProber) probes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// rig runs a Monitor on fake probers inside a synctest bubble.
type rig struct {
	t       *testing.T
	mon     *Monitor
	logs    *netopstest.Logs
	done    chan error
	stopped func() error // Run's result, once
	mu      sync.Mutex
	probers map[string]*fakeProber // by name, created on first use
	changes []Report               // what OnChange got
}

func newRig(t *testing.T, checks ...Check) *rig {
	t.Helper()
	r := &rig{t: t, logs: &netopstest.Logs{}, probers: map[string]*fakeProber{}, done: make(chan error, 1)}
	mon, err := NewMonitor(checks, MonitorConfig{
		Logger:    r.logs.Logger(),
		OnChange:  r.onChange,
		NewProber: func(c Check) (Prober, error) { return r.prober(c.Name), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	r.mon = mon
	ctx, cancel := context.WithCancel(t.Context())
	go func() { r.done <- mon.Run(ctx) }()
	r.stopped = sync.OnceValue(func() error { cancel(); return <-r.done })
	t.Cleanup(func() { r.stop() })
	synctest.Wait()
	return r
}

func (r *rig) prober(name string) *fakeProber {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probers[name] == nil {
		r.probers[name] = &fakeProber{}
	}
	return r.probers[name]
}

func (r *rig) onChange(rep Report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, rep)
}

func (r *rig) lastChange() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.changes) == 0 {
		r.t.Fatal("OnChange was never called")
	}
	return r.changes[len(r.changes)-1]
}

// advance lets d of virtual time pass and the monitor settle.
func (r *rig) advance(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func (r *rig) stop() error { return r.stopped() }

// verdictOf is the part of a report that OnChange is about.
type verdictOf struct {
	Healthy, Pending bool
	Failing          []string
}

func verdictOfReport(r Report) verdictOf { return verdictOf{r.Healthy, r.Pending, r.Failing} }

func check(name string) Check {
	return Check{Name: name, Exec: name, Interval: time.Second, Rise: 2, Fall: 2}
}

var errDown = errors.New("connection refused")

func TestMonitorRiseAndFall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, check("web"), check("db"))
		web, db := r.prober("web"), r.prober("db")
		// newRig ran the first probes at once; both were healthy.
		if got := verdictOfReport(r.mon.Report()); !cmp.Equal(got, verdictOf{true, false, []string{}}) {
			t.Fatalf("at start: %+v", got)
		}
		db.set(errDown)
		r.advance(time.Second)
		if rep := r.mon.Report(); !rep.Healthy || rep.Checks[1].Failures != 1 || rep.Checks[1].LastError != "connection refused" {
			t.Fatalf("after one failure (fall 2): %+v", rep)
		}
		r.advance(time.Second)
		want := verdictOf{Healthy: false, Failing: []string{"db"}}
		if got := verdictOfReport(r.mon.Report()); !cmp.Equal(got, want) {
			t.Fatalf("after two failures: %+v, want %+v", got, want)
		}
		if got := verdictOfReport(r.lastChange()); !cmp.Equal(got, want) {
			t.Errorf("OnChange got %+v, want %+v", got, want)
		}
		if l := r.logs.String(); !strings.Contains(l, `level=WARN msg="health check failing" check=db kind=exec reason="connection refused" failures=2`) {
			t.Errorf("log lacks the failing line:\n%s", l)
		}
		db.set(nil)
		r.advance(time.Second)
		if r.mon.Report().Healthy {
			t.Fatal("healthy after one success (rise 2)")
		}
		r.advance(time.Second)
		if got := verdictOfReport(r.lastChange()); !got.Healthy || len(got.Failing) != 0 {
			t.Errorf("OnChange after recovery: %+v", got)
		}
		if l := r.logs.String(); !strings.Contains(l, `level=INFO msg="health check recovered" check=db kind=exec successes=2`) {
			t.Errorf("log lacks the recovery line:\n%s", l)
		}
		if n := web.probes(); n != 5 {
			t.Errorf("web probed %d times in 4 intervals, want 5 (once at start)", n)
		}
	})
}

// A node whose first probe fails is failing at once, not after fall probes.
func TestMonitorFirstResultCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t) // no checks yet: the prober must exist before the first probe
		r.prober("web").set(errDown)
		if err := r.mon.Update([]Check{check("web")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		rep := r.mon.Report()
		if rep.Healthy || rep.Pending || !cmp.Equal(rep.Failing, []string{"web"}) {
			t.Errorf("after one failed probe: %+v", rep)
		}
	})
}

func TestMonitorNoChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		want := Report{Healthy: true, Failing: []string{}, Checks: []CheckStatus{}}
		if diff := cmp.Diff(want, r.mon.Report()); diff != "" {
			t.Errorf("report (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, r.lastChange()); diff != "" {
			t.Errorf("first OnChange (-want +got):\n%s", diff)
		}
	})
}

func TestMonitorPendingUntilFirstResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mon, err := NewMonitor([]Check{check("web")}, MonitorConfig{NewProber: func(Check) (Prober, error) { return &fakeProber{}, nil }})
		if err != nil {
			t.Fatal(err)
		}
		rep := mon.Report()
		if !rep.Healthy || !rep.Pending || !rep.Checks[0].Pending || rep.Checks[0].Healthy {
			t.Errorf("before Run: %+v", rep)
		}
	})
}

func TestMonitorUpdate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, check("web"), check("db"), check("old"))
		r.prober("db").set(errDown)
		r.advance(time.Second)
		r.advance(time.Second) // db failing with 2 failures, web healthy with 3 successes

		changed := check("db")
		changed.TCP, changed.Exec = "db:5432", ""
		r.prober("new").set(errDown)
		r.prober("db").set(nil)
		if err := r.mon.Update([]Check{check("new"), check("web"), changed}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		rep := r.mon.Report()
		names := make([]string, len(rep.Checks))
		for i, c := range rep.Checks {
			names[i] = c.Name
		}
		if !cmp.Equal(names, []string{"new", "web", "db"}) {
			t.Errorf("checks after update: %v, want new, web, db", names)
		}
		if web := rep.Checks[1]; !web.Healthy || web.Successes != 3 {
			t.Errorf("unchanged web lost its state: %+v", web)
		}
		// The changed db and the new check started over and ran at once: db
		// is healthy on its first success (with its old state it would need
		// rise=2), new failing on its first failure.
		if db := rep.Checks[2]; !db.Healthy || db.Successes != 1 || db.Kind != KindTCP {
			t.Errorf("changed db: %+v, want healthy tcp", db)
		}
		if !cmp.Equal(rep.Failing, []string{"new"}) {
			t.Errorf("failing = %v, want [new]", rep.Failing)
		}
		old := r.prober("old").probes()
		r.advance(3 * time.Second)
		if n := r.prober("old").probes(); n != old {
			t.Errorf("removed check probed %d more times", n-old)
		}
		if n := r.prober("web").probes(); n != 6 {
			t.Errorf("web probed %d times, want 6: its schedule must survive the update", n)
		}
	})
}

func TestMonitorUpdateInvalidKeepsOldSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, check("web"))
		bad := check("db")
		bad.Timeout = 5 * time.Second
		err := r.mon.Update([]Check{check("web"), bad})
		if err == nil || !strings.Contains(err.Error(), `check "db": timeout 5s is longer than interval 1s`) {
			t.Fatalf("err = %v", err)
		}
		r.advance(time.Second)
		rep := r.mon.Report()
		if len(rep.Checks) != 1 || rep.Checks[0].Successes != 2 {
			t.Errorf("old set not kept running: %+v", rep)
		}
	})
}

// Run waits for the probes in flight before it returns.
func TestMonitorRunWaitsForProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		p := r.prober("slow")
		p.block = true
		if err := r.mon.Update([]Check{check("slow")}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if err := r.stop(); err != nil {
			t.Fatalf("Run = %v", err)
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.done {
			t.Error("Run returned while a probe was still running")
		}
		if rep := r.mon.Report(); !rep.Checks[0].Pending {
			t.Errorf("a probe cut short by shutdown was recorded: %+v", rep.Checks[0])
		}
	})
}

func TestMonitorRunTwice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		if err := r.mon.Run(t.Context()); !errors.Is(err, ErrRunning) {
			t.Errorf("second Run = %v, want ErrRunning", err)
		}
	})
}

// A blocked OnChange does not hold up the probes, and when it returns the
// next call has the latest verdict.
func TestMonitorSlowOnChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var mu sync.Mutex
		var got []verdictOf
		p := &fakeProber{}
		mon, err := NewMonitor([]Check{check("web")}, MonitorConfig{
			NewProber: func(Check) (Prober, error) { return p, nil },
			OnChange: func(r Report) {
				mu.Lock()
				got = append(got, verdictOfReport(r))
				n := len(got)
				mu.Unlock()
				if n == 1 {
					<-release
				}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- mon.Run(ctx) }()
		p.set(errDown)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := p.probes(); n < 5 {
			t.Errorf("%d probes while OnChange was blocked, want at least 5", n)
		}
		close(release)
		synctest.Wait()
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if last := got[len(got)-1]; last.Healthy || !cmp.Equal(last.Failing, []string{"web"}) {
			t.Errorf("OnChange calls %+v: the last must say web is failing", got)
		}
	})
}

func TestSummarize(t *testing.T) {
	ok := CheckStatus{Name: "a", Healthy: true}
	pend := CheckStatus{Name: "b", Pending: true}
	bad := CheckStatus{Name: "c"}
	bad2 := CheckStatus{Name: "d"}
	for _, tc := range []struct {
		checks []CheckStatus
		want   verdictOf
	}{
		{nil, verdictOf{true, false, []string{}}},
		{[]CheckStatus{ok}, verdictOf{true, false, []string{}}},
		{[]CheckStatus{ok, pend}, verdictOf{true, true, []string{}}},
		{[]CheckStatus{bad, pend, ok, bad2}, verdictOf{false, true, []string{"c", "d"}}},
	} {
		if got := verdictOfReport(summarize(tc.checks)); !cmp.Equal(got, tc.want, cmpopts.EquateEmpty()) {
			t.Errorf("summarize(%+v) = %+v, want %+v", tc.checks, got, tc.want)
		}
	}
}

func TestReportJSON(t *testing.T) {
	r := summarize([]CheckStatus{
		{Name: "web", Kind: KindExec, Failures: 2, LastError: "exit status 1", LastRun: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
		{Name: "db", Kind: KindTCP, Pending: true},
	})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"healthy":false,"pending":true,"failing":["web"],"checks":[` +
		`{"name":"web","kind":"exec","healthy":false,"pending":false,"last_error":"exit status 1","last_run":"2025-01-02T03:04:05Z","successes":0,"failures":2},` +
		`{"name":"db","kind":"tcp","healthy":false,"pending":true,"successes":0,"failures":0}]}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
}
