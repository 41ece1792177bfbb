package netops

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// shutdownTimeout bounds the final unbind when Run is cancelled. Netlink calls
// take microseconds; this only guards against a wedged kernel call keeping the
// agent from transferring leadership.
const shutdownTimeout = 5 * time.Second

// Config configures a Reconciler.
type Config struct {
	// Node is this node's Raft ID, compared with the owner in the state.
	Node      string
	Binder    Binder
	Announcer Announcer
	// View is read afresh on every pass: the reconciler keeps no copy of the
	// cluster state, so a missed or merged event cannot leave it stale.
	View func() View
	// Lease is the kernel valid_lft of every bound VIP, in whole seconds (the
	// kernel's granularity), at least 1 s. It is renewed while the VIP is held,
	// so a frozen or killed daemon's VIPs vanish about Lease later.
	Lease time.Duration
	// Schedule of announcements; the zero value means DefaultSchedule().
	Schedule Schedule
	// Logger; nil discards.
	Logger *slog.Logger
	// Extra VIPs are managed (removed where not desired) even if the state does
	// not list them, e.g. the -vip flags of a node that has not joined yet.
	Extra []fsm.VIP
	// OnHeld is called on the reconciler's goroutine after a pass that
	// changed the set of bound VIPs, with the new set and the view's term
	// (for notify hooks). It must not block. A drop while the view says
	// Lapsed is reported only after NotifyGrace, and not at all if the VIPs
	// are bound again before (heldNotice).
	OnHeld func(held []netip.Prefix, term uint64)
	// NotifyGrace is how long OnHeld waits before reporting a drop on a
	// lapsed quorum lease; zero means Lease.
	NotifyGrace time.Duration
	// Prober, if set, asks the LAN before a VIP that no member can hold yet
	// is bound, and Watcher, if set, listens for other hosts announcing the
	// VIPs held (docs/design.md, "Other hosts on the LAN").
	Prober  Prober
	Watcher Watcher
}

func (c *Config) validate() error {
	switch {
	case c.Node == "":
		return fmt.Errorf("%w: empty node ID", ErrBadConfig)
	case c.Binder == nil || c.Announcer == nil || c.View == nil:
		return fmt.Errorf("%w: Binder, Announcer and View are required", ErrBadConfig)
	case c.Lease < time.Second || c.Lease%time.Second != 0:
		return fmt.Errorf("%w: lease %s, want whole seconds and at least 1s", ErrBadConfig, c.Lease)
	case c.NotifyGrace < 0:
		return fmt.Errorf("%w: negative notify grace %s", ErrBadConfig, c.NotifyGrace)
	}
	for _, v := range c.Extra {
		if err := fsm.ValidateVIP(v); err != nil {
			return fmt.Errorf("%w: extra VIP: %w", ErrBadConfig, err)
		}
	}
	return c.Schedule.validate()
}

// Reconciler makes the kernel match the desired state: it binds the VIPs while
// this node holds them, unbinds them otherwise, renews their lifetime and
// announces them. It is level-triggered: each pass re-reads the View and the
// kernel and recomputes everything, so events only need to Poke it.
type Reconciler struct {
	node   string
	binder Binder
	ann    Announcer
	view   func() View
	lease  time.Duration
	sched  Schedule
	extra  []fsm.VIP
	onHeld func([]netip.Prefix, uint64)
	grace  time.Duration
	log    *slog.Logger
	errs   errLog
	poke   chan struct{}
	lan    *lanGuard

	// held is what this reconciler bound and believes is still bound, by
	// address. Only Run's goroutine touches it.
	held map[netip.Addr]*hold
	// notice decides when OnHeld hears of a change; dropping is the reason
	// last logged for a drop ("" while holding). Run's goroutine only.
	notice   heldNotice
	dropping string
	stopping bool
	// conflicts and foreign are the last pass's Plan.Conflict, by VIP
	// address, and Plan.Foreign, kept to log each once. Only Run's
	// goroutine touches them.
	conflicts map[netip.Addr]Conflict
	foreign   map[Binding]bool

	mu         sync.Mutex
	published  []netip.Prefix // a copy of held's prefixes, for Held
	conflicted []Conflict     // a copy of conflicts, for Conflicts
	lastPass   time.Time      // when publish last ran, for LastPass
	// begun counts the passes that have read the view; settled is the
	// number of the pass published last, stopped is set by the final one,
	// and passed is closed by every publish (Released waits on them).
	begun, settled uint64
	stopped        bool
	passed         chan struct{}
	// reload is a schedule set by SetSchedule, adopted by Run's next pass.
	reload *Schedule

	stats struct{ arp, na, failed atomic.Uint64 }
}

// Stats are the reconciler's running totals, for metrics.
type Stats struct {
	// ARP and NA count announcements made for IPv4 VIPs (gratuitous ARP) and
	// IPv6 VIPs (unsolicited neighbour advertisements); Failed those that
	// could not be sent.
	ARP, NA, Failed uint64
	// InUse counts episodes of another host on the LAN answering for a VIP
	// before its bind, or announcing a held one.
	InUse uint64
}

// Stats returns the running totals.
func (r *Reconciler) Stats() Stats {
	return Stats{ARP: r.stats.arp.Load(), NA: r.stats.na.Load(), Failed: r.stats.failed.Load(),
		InUse: r.lan.episodes.Load()}
}

// NewReconciler validates cfg and returns a Reconciler. It starts nothing.
func NewReconciler(cfg Config) (*Reconciler, error) {
	if cfg.Schedule == (Schedule{}) {
		cfg.Schedule = DefaultSchedule()
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "reconciler")
	return &Reconciler{
		node:   cfg.Node,
		binder: cfg.Binder,
		ann:    cfg.Announcer,
		view:   cfg.View,
		lease:  cfg.Lease,
		sched:  cfg.Schedule,
		extra:  slices.Clone(cfg.Extra),
		onHeld: cfg.OnHeld,
		grace:  cmp.Or(cfg.NotifyGrace, cfg.Lease),
		log:    log,
		errs:   errLog{log: log, last: map[string]string{}},
		poke:   make(chan struct{}, 1),
		held:   map[netip.Addr]*hold{},
		lan:    newLANGuard(cfg.Node, cfg.Prober, cfg.Watcher, log),
		passed: make(chan struct{}),
	}, nil
}

// Poke asks for a reconcile pass soon. It never blocks; pokes made while one is
// already pending merge into it, which is harmless because each pass reads
// everything afresh.
func (r *Reconciler) Poke() {
	select {
	case r.poke <- struct{}{}:
	default:
	}
}

// SetSchedule replaces the announcement schedule from the next pass on (a
// SIGHUP reload). Holds keep their place in it: a VIP announced twice of a
// new three-announcement burst gets the third, not a new burst.
func (r *Reconciler) SetSchedule(s Schedule) error {
	if s == (Schedule{}) {
		s = DefaultSchedule()
	}
	if err := s.validate(); err != nil {
		return err
	}
	r.mu.Lock()
	r.reload = &s
	r.mu.Unlock()
	r.Poke()
	return nil
}

// adoptSchedule takes a schedule set by SetSchedule, on Run's goroutine.
func (r *Reconciler) adoptSchedule() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reload != nil {
		r.sched, r.reload = *r.reload, nil
		r.log.Info("announcement schedule reloaded", "burst", r.sched.Burst, "gap", r.sched.BurstGap,
			"repeat", r.sched.Repeat, "refresh", r.sched.Refresh)
	}
}

// Held returns the VIPs the reconciler believes are bound, as of its last pass.
func (r *Reconciler) Held() []netip.Prefix {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.published)
}

// Conflicts returns the desired VIPs that this node does not bind because a
// link already has their address without raftvip's mark (the node's own
// address, or one an operator added), as of the last pass, sorted by VIP. A
// leader with a conflict serves none of those VIPs until the address in the
// way is removed or the VIP is changed.
func (r *Reconciler) Conflicts() []Conflict {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.conflicted)
}

// LastPass returns when the last pass finished (zero before the first). Run
// finishes one at least once a second (passEvery), so an older time means the
// loop is stuck, e.g. in a kernel call that does not return; the agent's
// systemd watchdog stops being fed then.
func (r *Reconciler) LastPass() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPass
}

// Released returns once a pass that began after the call has finished and
// left this node holding no VIP: its view was read after the call and every
// unbind it made had returned. It pokes for that pass. A leader that has just
// given up leadership calls it before the transfer (docs/design.md, "Drop,
// then transfer"): a pass already under way read the view before, and may
// still bind, so Held alone cannot tell. After Run has returned, the final
// pass counts. It fails with ctx's error, naming what is still held.
func (r *Reconciler) Released(ctx context.Context) error {
	r.mu.Lock()
	after := r.begun
	r.mu.Unlock()
	r.Poke()
	for {
		r.mu.Lock()
		done := (r.settled > after || r.stopped) && len(r.published) == 0
		held, passed := slices.Clone(r.published), r.passed
		r.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("still holding %v: %w", held, ctx.Err())
		case <-passed:
		}
	}
}

// begin numbers a pass that is about to read the view.
func (r *Reconciler) begin() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.begun++
	return r.begun
}

// Run reconciles on every Poke, on a ticker (to repair drift such as an admin's
// `ip addr del`, and to renew lifetimes) and announces on schedule, until ctx
// is cancelled. Then it unbinds everything it manages and returns nil. Call it
// once.
func (r *Reconciler) Run(ctx context.Context) error {
	period := passEvery(r.lease, false)
	tick := time.NewTicker(period)
	defer tick.Stop()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		// Every wake-up, an announcement's included, reads the view afresh:
		// a hold must never be announced on the strength of an old view (a
		// leader thawed after SIGSTOP would call clients back to itself).
		r.adoptSchedule()
		seq := r.begin()
		v := r.view()
		want := Desired(v, r.node)
		r.pass(ctx, v, want)
		r.announceDue(ctx, time.Now())
		r.guardLAN(ctx, time.Now())
		notifyAt := r.publish(v, seq, false)
		if p := passEvery(r.lease, r.busy(want)); p != period {
			period = p
			tick.Reset(p)
		}
		if next, ok := r.nextAnnounce(); ok || !notifyAt.IsZero() {
			if !ok || (!notifyAt.IsZero() && notifyAt.Before(next)) {
				next = notifyAt
			}
			timer.Reset(time.Until(next))
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			r.lan.stop()
			r.shutdown(ctx)
			return nil
		case res := <-r.lan.results:
			r.lan.probedAll(res, &r.errs, time.Now())
		case s := <-r.lan.seen:
			r.sighted(ctx, s)
		case <-r.poke:
		case <-tick.C:
		case <-timer.C:
		}
	}
}

// passEvery is how long Run waits for a pass when nothing pokes it. While
// the node holds or wants VIPs, or retries a failed kernel call, a pass
// comes every min(lease/4, 1s): a VIP's lifetime is renewed once a third of
// the lease has passed (keep), and a failed bind or unbind is retried soon.
// Otherwise a pass only repairs drift (an address with raftvip's mark that
// this node must not hold, put there by something else), and once a second
// is enough: an idle follower then wakes once a second rather than four
// times. Either way a pass comes at least once a second, which the systemd
// watchdog relies on (docs/operations.md, "The systemd watchdog").
func passEvery(lease time.Duration, busy bool) time.Duration {
	if busy {
		return min(lease/4, time.Second)
	}
	return time.Second
}

// busy reports whether the next pass is due soon (passEvery): after a pass
// that wanted VIPs, still holds some, or saw a failure it has not yet seen
// succeed again.
func (r *Reconciler) busy(want []fsm.VIP) bool {
	return len(want) > 0 || len(r.held) > 0 || len(r.errs.last) > 0
}

// shutdown unbinds every managed VIP. ctx is already cancelled, so it works
// under a fresh deadline that keeps ctx's values.
func (r *Reconciler) shutdown(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	seq := r.begin()
	v := r.view()
	r.stopping = true
	r.pass(ctx, v, nil)
	// What a failed read hid from the pass is still ours to remove: this
	// reconciler bound it, with the mark.
	links := r.heldLinks()
	for _, h := range r.sortedHolds() {
		r.unbind(ctx, h.Binding, Found{Addr: Addr{Prefix: h.Prefix}, Ours: true})
	}
	for _, link := range links {
		r.release(link)
	}
	r.publish(v, seq, true)
}

// publish makes the held set of pass seq visible to Held and Released and
// reports a change to OnHeld as heldNotice decides; final (shutdown) reports
// at once. It returns when to look again for a deferred report (zero if none).
func (r *Reconciler) publish(v View, seq uint64, final bool) time.Time {
	ps := make([]netip.Prefix, 0, len(r.held))
	for _, h := range r.sortedHolds() {
		ps = append(ps, h.Prefix)
	}
	now := time.Now()
	cs := slices.SortedFunc(slices.Values(slices.Concat(slices.Collect(maps.Values(r.conflicts)), r.lan.conflicts())),
		func(a, b Conflict) int { return a.VIP.Prefix.Addr().Compare(b.VIP.Prefix.Addr()) })
	r.mu.Lock()
	r.published = ps
	r.conflicted = cs
	r.lastPass = now
	r.settled, r.stopped = seq, final
	close(r.passed)
	r.passed = make(chan struct{})
	r.mu.Unlock()
	tell, due := r.notice.next(ps, v, now, r.grace, final)
	if tell && r.onHeld != nil {
		r.onHeld(slices.Clone(ps), v.Term)
	}
	return due
}

// errLog logs each failure once: again only when its message changes, and once
// more when it recovers. A Bind that fails on every tick must not flood the log.
type errLog struct {
	log  *slog.Logger
	last map[string]string
}

func (e *errLog) failed(key, msg string, err error, attrs ...any) {
	if e.last[key] == err.Error() {
		return
	}
	e.last[key] = err.Error()
	e.log.Error(msg, append(attrs, "err", err)...)
}

// clear forgets key's failure and reports whether there was one, so that the
// caller can say that it works again.
func (e *errLog) clear(key string) bool {
	_, failing := e.last[key]
	delete(e.last, key)
	return failing
}
