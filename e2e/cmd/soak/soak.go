package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/history"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// Bounds the checker judges by; docs/reliability.md says why each is what it is.
const (
	// lease is the agents' -vip-lease.
	lease = time.Second
	// sampleEvery is the period of the holder samples and the probe.
	sampleEvery = 10 * time.Millisecond
	// settleBound is added to the election timeout to make Meta.Settle.
	settleBound = 5 * time.Second
	// maxGap is the longest outage a healthy quorum may show.
	maxGap = 5 * time.Second
	// kernelSlack is how late past the lease the kernel may remove the
	// address of a dead holder (STYLE.md measured 1040 ms for a 1 s
	// lifetime; the rest is room for a loaded machine).
	kernelSlack = 250 * time.Millisecond
	// resEvery is the period of the resource samples.
	resEvery = 5 * time.Second
	// apiWait bounds one API call of the soak.
	apiWait = 3 * time.Second
	// exitWait bounds how long a SIGTERMed daemon may take to exit.
	exitWait = 20 * time.Second
)

// The VIPs: the main one the client probes (never removed), and the pool the
// churn adds and removes, IPv6 included.
var (
	mainVIP = netip.MustParsePrefix("192.0.2.100/24")
	vipPool = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.101/24"), netip.MustParsePrefix("192.0.2.102/24"),
		netip.MustParsePrefix("192.0.2.103/24"), netip.MustParsePrefix("192.0.2.104/24"),
		netip.MustParsePrefix("2001:db8::101/64"), netip.MustParsePrefix("2001:db8::102/64"),
	}
)

// electionOf is the election timeout of a timing profile (cluster/timing.go).
func electionOf(profile string) time.Duration {
	if profile == "fast" {
		return 100 * time.Millisecond
	}
	return 200 * time.Millisecond
}

// run is one soak: the lab, the cluster, the record, and what the nemesis
// owns at the moment.
type run struct {
	cfg config
	say func(string, ...any)
	lab *lab.Lab
	c   *rig.Cluster
	rec *history.Recorder

	leader atomic.Int32 // the sole holder of the main VIP at the last sample, 0 if none

	mu     sync.Mutex
	busy   map[int]bool   // nodes a running fault owns
	active map[int]string // running faults by ID
	nextID int
	excl   bool            // an exclusive fault runs
	vipsOn map[string]bool // pool VIPs the last answered call left present

	watchCtx context.Context // ends the exit watchers
	watchers sync.WaitGroup
}

// soak builds the lab and cluster, runs the nemesis for cfg.duration,
// collects the final states and returns the checker's report.
func soak(ctx context.Context, cfg config, w io.Writer) (history.Report, error) {
	histPath, logs := outPaths(cfg.out)
	if err := os.RemoveAll(logs); err != nil {
		return history.Report{}, err
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return history.Report{}, err
	}
	bin, err := filepath.Abs(cfg.bin)
	if err == nil {
		_, err = os.Stat(bin)
	}
	if err != nil {
		return history.Report{}, fmt.Errorf("raftvip binary: %w (make build)", err)
	}
	responder, err := lab.BuildResponder(ctx, logs)
	if err != nil {
		return history.Report{}, err
	}
	r := &run{cfg: cfg, busy: map[int]bool{}, active: map[int]string{}, vipsOn: map[string]bool{}}
	r.say = func(f string, a ...any) { fmt.Fprintf(w, f+"\n", a...) }
	logf := func(string, ...any) {}
	if cfg.verbose {
		logf = func(f string, a ...any) { r.say("  lab: "+f, a...) }
	}
	r.lab, err = lab.New(ctx, lab.Options{Nodes: cfg.nodes, Dir: logs, Responder: responder, KeepSignals: true, Intruder: true, Logf: logf})
	if err != nil {
		return history.Report{}, err
	}
	defer func() {
		if err := r.lab.Close(); err != nil {
			r.say("soak: lab cleanup: %v", err)
		}
	}()
	if err := r.lab.StartResponders(ctx); err != nil {
		return history.Report{}, err
	}
	if r.c, err = rig.New(r.lab, bin, "-vip-lease", lease.String(), "-timing", cfg.profile); err != nil {
		return history.Report{}, err
	}
	f, err := os.Create(histPath)
	if err != nil {
		return history.Report{}, err
	}
	defer f.Close()
	r.rec = history.NewRecorder(f, time.Now())
	r.rec.Add(history.Event{Kind: history.KindMeta, Meta: r.meta()})

	watchCtx, stopWatch := context.WithCancel(ctx)
	r.watchCtx = watchCtx
	defer r.watchers.Wait()
	defer stopWatch()
	if _, err := r.c.Bootstrap(ctx, mainVIP); err != nil {
		return history.Report{}, fmt.Errorf("bootstrap: %w\n%s", err, r.lab.Tails(20))
	}
	for i := 1; i <= cfg.nodes; i++ {
		r.started(i, r.c.Proc(i))
	}
	evs, err := r.observe(ctx)
	if err != nil {
		return history.Report{}, err
	}
	stopWatch()
	r.watchers.Wait()
	if err := r.rec.Flush(); err != nil {
		return history.Report{}, err
	}
	evs = r.rec.Events()
	rep := history.Check(evs, false)
	if err := writeReport(cfg.out, rep, evs, commandLine(cfg)); err != nil {
		return rep, err
	}
	r.say("soak: history %s, report %s", histPath, filepath.Join(cfg.out, "report.md"))
	return rep, nil
}

// observe runs the probe, the samplers, the churn and the nemesis, then the
// quiet tail and the final states, and returns the history.
func (r *run) observe(ctx context.Context) ([]history.Event, error) {
	// Dial times count from the probe's start, a few microseconds after this.
	before := time.Now()
	p := probe.Start(ctx, r.lab, mainVIP.Addr(), probe.Options{NoStates: true, OnDial: func(d probe.Dial) {
		e := history.Event{T: r.rec.Since(before.Add(d.At)), Kind: history.KindProbe, Answer: d.Node, Err: d.Err}
		r.rec.Add(e)
	}})
	defer p.Stop()
	if err := probe.WaitFor(ctx, func() bool { return p.LastAnswer() != "" }, 30*time.Second); err != nil {
		return nil, fmt.Errorf("the client never reached %s: %w\n%s", mainVIP.Addr(), err, r.lab.Tails(20))
	}
	sctx, stopSamplers := context.WithCancel(ctx)
	var samplers sync.WaitGroup
	samplers.Go(func() { r.sampleHolders(sctx) })
	samplers.Go(func() { r.sampleResources(sctx) })
	samplers.Go(func() { r.live(sctx) })
	defer func() { stopSamplers(); samplers.Wait() }()

	faultsUntil := time.Now().Add(r.cfg.duration - r.cfg.quiet)
	cctx, stopChurn := context.WithDeadline(ctx, faultsUntil)
	var churn sync.WaitGroup
	churn.Go(func() { r.churn(cctx) })
	r.nemesis(ctx, faultsUntil)
	stopChurn()
	churn.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.say("soak: faults over at t=%v; quiet tail of %v", r.rec.Since(time.Now()).Round(time.Second), r.cfg.quiet)
	sleep(ctx, r.cfg.quiet)
	r.finals(ctx)
	stopSamplers()
	samplers.Wait()
	p.Stop()
	r.scanLogs()
	return r.rec.Events(), ctx.Err()
}

func (r *run) meta() *history.Meta {
	pool := make([]string, len(vipPool))
	for k, v := range vipPool {
		pool[k] = v.String()
	}
	el := electionOf(r.cfg.profile)
	return &history.Meta{
		Nodes: r.cfg.nodes, Seed: r.cfg.seed, Profile: r.cfg.profile, Duration: r.cfg.duration.String(),
		MainVIP: mainVIP.String(), VIPs: []string{mainVIP.String()}, Pool: pool,
		Lease: lease, Sample: sampleEvery, Election: el,
		Settle: el + settleBound, MaxGap: maxGap, KernelSlack: kernelSlack, ResourceMinSpan: 2 * time.Minute,
	}
}

// started records that node i's daemon p started, and watches for its exit.
func (r *run) started(i int, p *lab.Proc) {
	r.rec.Add(history.Event{Kind: history.KindStart, Node: i, PID: p.PID()})
	r.watchers.Go(func() {
		for {
			err := p.Wait(500 * time.Millisecond)
			if errors.Is(err, lab.ErrStillRunning) {
				if r.watchCtx.Err() != nil {
					return
				}
				continue
			}
			e := history.Event{Kind: history.KindExit, Node: i, PID: p.PID()}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				e.Code = ee.ExitCode()
				e.Err = ee.Error()
			} else if err != nil {
				e.Code, e.Err = -1, err.Error()
			}
			if r.watchCtx.Err() == nil { // not the lab's own cleanup
				r.rec.Add(e)
			}
			return
		}
	})
}

// start starts node i's daemon (Restart when extra is nil) and records it.
func (r *run) start(ctx context.Context, i int, extra ...string) error {
	var p *lab.Proc
	var err error
	if extra == nil {
		p, err = r.c.Restart(ctx, i)
	} else {
		p, err = r.c.Start(ctx, i, extra...)
	}
	if err != nil {
		return err
	}
	r.started(i, p)
	return nil
}

// signal records and sends sig to node i's daemon.
func (r *run) signal(i int, sig syscall.Signal, name string) error {
	p := r.c.Proc(i)
	if p == nil {
		return fmt.Errorf("n%d has no daemon", i)
	}
	r.rec.Add(history.Event{Kind: history.KindSignal, Node: i, Signal: name})
	return p.Signal(sig)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func commandLine(cfg config) string {
	return fmt.Sprintf("make soak DURATION=%v NODES=%d SEED=%d PROFILE=%s", cfg.duration, cfg.nodes, cfg.seed, cfg.profile)
}
