package netops

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// hold is one VIP this reconciler bound, with its lifetime renewal and its
// announcement schedule.
type hold struct {
	Binding
	term    uint64    // the claim term in which it was (re)confirmed
	renewed time.Time // last successful Bind, for the lifetime renewal
	start   time.Time // start of the current announcement schedule
	sent    int       // announcements of the schedule made (or skipped) so far
}

// due reports when h's next announcement is due, and false if none is left.
func (h *hold) due(s Schedule) (time.Time, bool) {
	at, ok := s.at(h.sent)
	return h.start.Add(at), ok
}

// announceDue makes every announcement due by now, unless the view may have
// changed since the pass (stale): then the next pass reads it first.
func (r *Reconciler) announceDue(ctx context.Context, now time.Time) {
	for _, h := range r.sortedHolds() {
		if r.stale() {
			return
		}
		r.announceIfDue(ctx, h, now)
	}
}

// announceIfDue makes h's announcement if one is due by now.
func (r *Reconciler) announceIfDue(ctx context.Context, h *hold, now time.Time) {
	if next, ok := h.due(r.sched); !ok || next.After(now) {
		return
	}
	r.announce(ctx, h)
	// Slots missed while a pass was slow are skipped rather than sent back
	// to back: one announcement already told the LAN.
	for h.sent++; ; h.sent++ {
		if next, ok := h.due(r.sched); !ok || next.After(now) {
			break
		}
	}
}

func (r *Reconciler) announce(ctx context.Context, h *hold) {
	attrs := []any{"vip", h.Prefix, "link", h.Link, "term", h.term}
	if h.sent == 0 || h.sent == r.sched.Burst {
		r.log.Info("announcing VIP", append(attrs, "burst", r.sched.Burst, "gap", r.sched.BurstGap)...)
	} else {
		r.log.Debug("announcing VIP", attrs...)
	}
	key := "announce " + h.Prefix.Addr().String()
	if err := r.ann.Announce(ctx, h.Link, h.Prefix.Addr()); err != nil {
		r.stats.failed.Add(1)
		r.errs.failed(key, "cannot announce VIP", err, attrs...)
		return
	}
	if h.Prefix.Addr().Is4() {
		r.stats.arp.Add(1)
	} else {
		r.stats.na.Add(1)
	}
	if r.errs.clear(key) {
		r.log.Info("announcing VIP works again", attrs...)
	}
}

// nextAnnounce returns when the earliest pending announcement is due.
func (r *Reconciler) nextAnnounce() (time.Time, bool) {
	var first time.Time
	for _, h := range r.held {
		if next, ok := h.due(r.sched); ok && (first.IsZero() || next.Before(first)) {
			first = next
		}
	}
	return first, !first.IsZero()
}

// sortedHolds returns the holds in address order, so that every pass acts,
// logs and announces in the same order.
func (r *Reconciler) sortedHolds() []*hold {
	hs := make([]*hold, 0, len(r.held))
	for _, h := range r.held {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, func(a, b *hold) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
	return hs
}

// heldLinks returns the distinct links of the holds, sorted.
func (r *Reconciler) heldLinks() []string {
	links := make([]string, 0, len(r.held))
	for _, h := range r.held {
		links = append(links, h.Link)
	}
	slices.Sort(links)
	return slices.Compact(links)
}

// Schedule is when a newly held VIP is announced: Burst announcements BurstGap
// apart at once, the same burst again Repeat after the first one started (0: no
// second burst), then one announcement every Refresh for as long as the VIP is
// held (0: none).
//
// The second burst is for clients and switches that missed the first while the
// link or a bridge port was still settling. Refresh is for clients that came up
// with no entry, or dropped it, after the bursts (docs/design.md, "Drop, then
// transfer": a client kept the
// old MAC for up to 53 s after a partition healed under keepalived).
type Schedule struct {
	Burst    int
	BurstGap time.Duration
	Repeat   time.Duration
	Refresh  time.Duration
}

// DefaultSchedule returns three announcements 50 ms apart at takeover, a second
// burst 2 s later and no periodic refresh.
func DefaultSchedule() Schedule {
	return Schedule{Burst: 3, BurstGap: 50 * time.Millisecond, Repeat: 2 * time.Second}
}

// validate reports why s cannot be followed.
func (s Schedule) validate() error {
	switch {
	case s.Burst < 1:
		return fmt.Errorf("%w: schedule burst %d, want at least 1", ErrBadConfig, s.Burst)
	case s.BurstGap < 0 || s.Repeat < 0 || s.Refresh < 0:
		return fmt.Errorf("%w: schedule %+v has a negative duration", ErrBadConfig, s)
	case s.Repeat > 0 && s.Repeat <= time.Duration(s.Burst-1)*s.BurstGap:
		// Otherwise the second burst would start before the first one ends.
		return fmt.Errorf("%w: schedule repeat %s is not after the burst (%d x %s)",
			ErrBadConfig, s.Repeat, s.Burst, s.BurstGap)
	}
	return nil
}

// at returns how long after the start of a hold the n-th announcement (from 0)
// is due, and false when the schedule has no n-th announcement.
func (s Schedule) at(n int) (time.Duration, bool) {
	burst := func(i int) time.Duration { return time.Duration(i) * s.BurstGap }
	switch {
	case n < 0:
		return 0, false
	case n < s.Burst:
		return burst(n), true
	case s.Repeat > 0 && n < 2*s.Burst:
		return s.Repeat + burst(n-s.Burst), true
	case s.Refresh <= 0:
		return 0, false
	}
	// Refreshes follow the last announcement of the bursts.
	last := burst(s.Burst - 1)
	done := s.Burst
	if s.Repeat > 0 {
		last += s.Repeat
		done = 2 * s.Burst
	}
	return last + time.Duration(n-done+1)*s.Refresh, true
}
