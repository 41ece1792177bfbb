// Package probe is the judge of a failover: from the lab's client namespace it
// connects to a VIP every few milliseconds and records which node answers,
// and in parallel it records which nodes hold the VIP and where the client's
// neighbour entry for it points. Stop turns the samples into a Report.
//
// The dials run on goroutines whose OS threads joined the client namespace
// (lab.RunInNS) and stay there for the probe's life: a socket belongs to the
// namespace of the thread that created it, and this keeps the probe in the
// test process, on the same monotonic clock as the holder samples, with no
// helper process or stream to parse. Several dialers work in turn, so a dial
// hanging for its whole timeout does not stretch the sampling interval.
package probe

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// Options configures a probe. Zero values take the defaults.
type Options struct {
	// Interval between dial starts and between state samples (default 10 ms).
	Interval time.Duration
	// DialTimeout bounds one connect-and-read (default 50 ms).
	DialTimeout time.Duration
	// Port is the responder's port (default lab.ResponderPort).
	Port uint16
	// OnDial, if set, receives every dial as it completes, from the dialer's
	// goroutine (so it must not block), for a caller that streams them.
	OnDial func(Dial)
	// NoStates turns off the sampling of holders and neighbour entry, for a
	// caller that samples the nodes itself.
	NoStates bool
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Millisecond
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 50 * time.Millisecond
	}
	if o.Port == 0 {
		o.Port = lab.ResponderPort
	}
}

// dialers is how many dials may be in flight: enough that one starts every
// interval even while each waits its full timeout.
func (o Options) dialers() int { return int(o.DialTimeout/o.Interval) + 2 }

// Probe is a running probe; Stop ends it.
type Probe struct {
	lab    *lab.Lab
	vip    netip.Addr
	opts   Options
	start  time.Time
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	report Report

	mu       sync.Mutex
	dials    []Dial
	states   []State
	missed   int
	setupErr error
	last     Dial // the latest successful dial, by start time
}

// Start starts probing vip from l's client namespace until Stop or ctx ends.
func Start(ctx context.Context, l *lab.Lab, vip netip.Addr, opts Options) *Probe {
	opts.defaults()
	ctx, cancel := context.WithCancel(ctx)
	p := &Probe{lab: l, vip: vip, opts: opts, start: time.Now(), cancel: cancel}
	jobs := make(chan struct{})
	for range opts.dialers() {
		p.wg.Go(func() {
			err := lab.RunInNS(l.ClientNS(), func() error { p.dialLoop(ctx, jobs); return nil })
			if err != nil {
				p.mu.Lock()
				p.setupErr = err
				p.mu.Unlock()
			}
		})
	}
	p.wg.Go(func() { p.tickLoop(ctx, jobs) })
	if !opts.NoStates {
		p.wg.Go(func() { p.stateLoop(ctx) })
	}
	return p
}

// tickLoop hands a dial to an idle dialer every interval, and counts the
// ticks when every dialer was busy.
func (p *Probe) tickLoop(ctx context.Context, jobs chan<- struct{}) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		select {
		case jobs <- struct{}{}:
		default:
			p.mu.Lock()
			p.missed++
			p.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// dialLoop runs on a thread inside the client namespace.
func (p *Probe) dialLoop(ctx context.Context, jobs <-chan struct{}) {
	addr := netip.AddrPortFrom(p.vip, p.opts.Port)
	for {
		select {
		case <-ctx.Done():
			return
		case <-jobs:
		}
		began := time.Now()
		name, err := lab.Ask(ctx, addr, p.opts.DialTimeout)
		if ctx.Err() != nil {
			return // cut short by Stop: not a verdict on the VIP
		}
		d := Dial{At: began.Sub(p.start), Took: time.Since(began), Node: name}
		if err != nil {
			d.Err = errClass(err)
		}
		p.record(d)
	}
}

func (p *Probe) record(d Dial) {
	if p.opts.OnDial != nil {
		p.opts.OnDial(d)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dials = append(p.dials, d)
	if d.Err == "" && (p.last.Node == "" || d.At > p.last.At) {
		p.last = d
	}
}

// stateLoop samples the holders of the VIP and the client's neighbour entry.
func (p *Probe) stateLoop(ctx context.Context) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		s := State{At: time.Since(p.start)}
		holders, err := p.lab.HoldersOf(p.vip)
		if err == nil {
			s.Holders = holders
			s.NeighMAC, s.NeighState, err = p.lab.ClientNeigh(p.vip)
		}
		if err != nil {
			s.Err = err.Error()
		}
		p.mu.Lock()
		p.states = append(p.states, s)
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Started is when the probe started: Dial.At and State.At count from it.
func (p *Probe) Started() time.Time { return p.start }

// LastAnswer is the node that answered the most recent successful dial, ""
// before the first answer.
func (p *Probe) LastAnswer() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last.Node
}

// LastState is the most recent sample of holders and neighbour entry (zero
// before the first).
func (p *Probe) LastState() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.states) == 0 {
		return State{}
	}
	return p.states[len(p.states)-1]
}

// Stop ends the probe, waits for its goroutines and returns the report. Later
// calls return the same report.
func (p *Probe) Stop() Report {
	p.once.Do(func() {
		p.cancel()
		p.wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.report = analyze(p.vip, p.start, time.Since(p.start), p.dials, p.states)
		p.report.Missed = p.missed
		if p.setupErr != nil {
			p.report.Err = p.setupErr.Error()
		}
	})
	return p.report
}

// ErrTimeout is returned by WaitFor when the condition did not hold in time.
var ErrTimeout = errors.New("condition not met in time")

// WaitFor polls cond every 10 ms until it holds, and returns an error wrapping
// ErrTimeout when timeout passes first (or ctx's error when ctx ends first).
func WaitFor(ctx context.Context, cond func() bool, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("after %v: %w", timeout, ErrTimeout)
		case <-tick.C:
		}
	}
	return nil
}

// Until polls check like WaitFor until it returns nil; when the wait ends
// first, its error names what was awaited and check's last error.
func Until(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	var last error
	if err := WaitFor(ctx, func() bool { last = check(); return last == nil }, timeout); err != nil {
		return fmt.Errorf("%s: %w; last check: %v", what, err, last)
	}
	return nil
}
