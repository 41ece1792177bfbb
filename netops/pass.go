package netops

import (
	"context"
	"errors"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// pass is one level-triggered reconcile: read the kernel once, find each
// VIP's link, diff, then unbind, bind and renew, in that order. The one
// reading serves the link lookups, the diff and the checks of every change,
// so a pass over N VIPs makes one dump and at most N changes.
func (r *Reconciler) pass(ctx context.Context, v View, want []fsm.VIP) {
	now := time.Now()
	before := r.heldLinks()
	kernel := r.read(ctx)
	links := r.resolve(kernel, v.State.VIPs, want)
	observed := observe(kernel, r.linksToList(links))
	seen := foundBy(observed)
	r.forgetVanished(observed, seen)
	plan := Diff(resolved(want, links, observed), observed, r.managed(v.State.VIPs)...)
	r.logDrop(v, want, plan.Unbind)
	r.noteConflicts(plan.Conflict, want)
	r.noteForeign(plan.Foreign)
	for _, b := range plan.Unbind {
		r.unbind(ctx, b, seen[b])
	}
	for i, d := range r.lan.screen(ctx, plan.Bind, v, want, now) {
		if i >= minBatch && r.stale() {
			break
		}
		r.bind(ctx, d, v.Term, now)
	}
	for i, d := range plan.Keep {
		if i >= minBatch && r.stale() {
			break
		}
		r.keep(ctx, d, v.Term, now)
	}
	r.releaseIdle(before)
}

// minBatch is how many binds, and how many renewals, a pass makes before it
// yields to a pending poke, so that a stream of pokes (API writes) cannot
// keep the VIPs from being bound or renewed; 64 kernel calls take some 15 ms.
// It is maxProbes, so that a pass binds all the VIPs that a wave of probes
// cleared (a clearance lasts one pass; one unused is probed again).
const minBatch = maxProbes

// stale reports that the view a pass acts on may be old: a poke is pending,
// and every change of the view pokes. A pass over many VIPs takes long enough
// for a step-down to come in its middle (binding 1024 VIPs took about 0.2 s),
// so past minBatch it leaves the rest of its binds and renewals, and the
// announcements, to the next pass, which reads the view afresh: at most
// minBatch VIPs are bound on a view that has become old, none announced, and
// the next pass unbinds them. Unbinds are never left: dropping is safe.
func (r *Reconciler) stale() bool {
	return len(r.poke) > 0
}

// logDrop says once, at WARN, why held VIPs are about to be unbound: a client
// loses them now, and the log must say why (docs/design.md, "The quorum
// lease"). A VIP moving to another link or prefix is not a drop.
func (r *Reconciler) logDrop(v View, want []fsm.VIP, unbind []Binding) {
	var gone []netip.Prefix
	for _, b := range unbind {
		a := b.Prefix.Addr()
		if r.held[a] != nil && !slices.ContainsFunc(want, func(w fsm.VIP) bool { return w.Prefix.Addr() == a }) {
			gone = append(gone, b.Prefix)
		}
	}
	if len(want) > 0 && len(gone) == 0 {
		r.dropping = ""
	}
	if len(gone) == 0 {
		return
	}
	why := dropReason(v, r.node, r.stopping)
	if why == r.dropping {
		return
	}
	r.dropping = why
	r.log.Warn("dropping VIPs", "vips", gone, "reason", why, "term", v.Term)
}

// read returns the addresses of every link, or nil if the kernel cannot be
// read: then no VIP is placed or observed, so the pass changes nothing.
func (r *Reconciler) read(ctx context.Context) Links {
	ls, err := r.binder.Addrs(ctx)
	if err != nil {
		r.errs.failed("read", "cannot read addresses", err)
		return nil
	}
	if r.errs.clear("read") {
		r.log.Info("reading addresses works again")
	}
	return ls
}

// resolve returns the link of every managed VIP it can place. A VIP that
// cannot be placed but is held stays on its link: a transient lookup failure
// must not drop a VIP that is serving.
func (r *Reconciler) resolve(kernel Links, state, want []fsm.VIP) map[netip.Addr]string {
	links := map[netip.Addr]string{}
	var wanted map[netip.Addr]bool
	for _, v := range slices.Concat(state, r.extra) {
		a := v.Prefix.Addr()
		if _, done := links[a]; done {
			continue
		}
		link, err := linkFor(kernel, v)
		key := "link " + a.String()
		switch {
		case err == nil:
			r.errs.clear(key)
			links[a] = link
			continue
		case kernel == nil:
			// Unread, not unplaced: read has said why.
		default:
			if wanted == nil {
				wanted = addrSet(want)
			}
			if wanted[a] {
				r.errs.failed(key, "cannot find a link for VIP", err, "vip", v.Prefix)
			}
		}
		if h := r.held[a]; h != nil {
			links[a] = h.Link
		}
	}
	return links
}

func linkFor(kernel Links, v fsm.VIP) (string, error) {
	if v.Interface != "" {
		return v.Interface, nil
	}
	return kernel.LinkFor(v.Prefix.Addr())
}

func addrSet(vs []fsm.VIP) map[netip.Addr]bool {
	out := make(map[netip.Addr]bool, len(vs))
	for _, v := range vs {
		out[v.Prefix.Addr()] = true
	}
	return out
}

// linksToList returns the links to read: those of the VIPs and those this
// reconciler holds addresses on.
func (r *Reconciler) linksToList(links map[netip.Addr]string) []string {
	all := slices.Collect(maps.Values(links))
	for _, h := range r.held {
		all = append(all, h.Link)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// observe returns the addresses of each of links as the kernel reading has
// them. A link that is gone has none; with no reading (nil) every link is
// left out, so nothing is bound or unbound.
func observe(kernel Links, links []string) map[string][]Found {
	if kernel == nil {
		return nil
	}
	obs := make(map[string][]Found, len(links))
	for _, link := range links {
		obs[link] = kernel[link]
	}
	return obs
}

// foundBy indexes the observed addresses by link and prefix.
func foundBy(obs map[string][]Found) map[Binding]Found {
	n := 0
	for _, fs := range obs {
		n += len(fs)
	}
	out := make(map[Binding]Found, n)
	for link, fs := range obs {
		for _, f := range fs {
			out[Binding{Link: link, Prefix: f.Prefix}] = f
		}
	}
	return out
}

// forgetVanished drops the holds that the kernel no longer has with raftvip's
// mark: the lifetime ran out, an admin deleted or replaced the address, or the
// link went away. A VIP still desired is then bound again, and announced, as a
// new hold, unless an address in its way makes it a Conflict.
func (r *Reconciler) forgetVanished(obs map[string][]Found, seen map[Binding]Found) {
	for a, h := range r.held {
		if _, listed := obs[h.Link]; listed && !seen[h.Binding].Ours {
			r.log.Warn("VIP vanished from the kernel", "vip", h.Prefix, "link", h.Link, "term", h.term)
			delete(r.held, a)
		}
	}
}

// resolved places the desired VIPs on their links, leaving out those without a
// link or on a link that could not be read.
func resolved(want []fsm.VIP, links map[netip.Addr]string, obs map[string][]Found) []ResolvedVIP {
	var out []ResolvedVIP
	for _, v := range want {
		link, ok := links[v.Prefix.Addr()]
		if _, listed := obs[link]; ok && listed {
			out = append(out, ResolvedVIP{VIP: v, Link: link})
		}
	}
	return out
}

// managed returns every address this reconciler may remove: the VIPs of the
// state, the extra ones, and whatever it holds.
func (r *Reconciler) managed(state []fsm.VIP) []netip.Addr {
	out := make([]netip.Addr, 0, len(state)+len(r.extra)+len(r.held))
	for _, v := range slices.Concat(state, r.extra) {
		out = append(out, v.Prefix.Addr())
	}
	for a := range r.held {
		out = append(out, a)
	}
	return out
}

// unbind removes b, which the pass's reading found as f.
func (r *Reconciler) unbind(ctx context.Context, b Binding, f Found) {
	key := "unbind " + b.Prefix.Addr().String()
	// A link that is gone took its addresses with it.
	err := r.binder.Unbind(ctx, b.Link, f)
	switch {
	case errors.Is(err, ErrForeign):
		// Not raftvip's in the reading: no longer this reconciler's to
		// remove, nor to hold.
		r.log.Warn("address was not added by raftvip: left in place", "addr", b.Prefix, "link", b.Link)
		delete(r.held, b.Prefix.Addr())
		return
	case err != nil && !errors.Is(err, ErrNoLink):
		r.errs.failed(key, "cannot unbind VIP", err, "vip", b.Prefix, "link", b.Link)
		return
	}
	r.errs.clear(key)
	if h := r.held[b.Prefix.Addr()]; h != nil && h.Binding == b {
		delete(r.held, b.Prefix.Addr())
	}
	r.log.Info("unbound VIP", "vip", b.Prefix, "link", b.Link)
}

// bind binds d, which the pass's reading did not find, and starts a new hold,
// with its announcement schedule.
func (r *Reconciler) bind(ctx context.Context, d ResolvedVIP, term uint64, now time.Time) {
	if r.bindKernel(ctx, r.binder.Bind, d, term, "cannot bind VIP") {
		r.startHold(ctx, d, term, now)
	}
}

// startHold records d as held since now, the start of the pass, and makes
// its first announcement at once: with many VIPs, the first is in the kernel
// long before the last, and its clients need not wait for the others. Every
// hold of the pass shares the start of its schedule, so that the rest of
// their bursts take one wake-up a slot rather than one a VIP. (After a pass
// longer than the burst, the next slot is announced and those that went by
// meanwhile are skipped: announceIfDue.)
func (r *Reconciler) startHold(ctx context.Context, d ResolvedVIP, term uint64, now time.Time) {
	p := d.VIP.Prefix
	h := &hold{Binding: Binding{Link: d.Link, Prefix: p}, term: term, renewed: now, start: now}
	r.held[p.Addr()] = h
	r.log.Info("bound VIP", "vip", p, "link", d.Link, "term", term, "label", d.Addr().Label, "lifetime", r.lease)
	if !r.stale() {
		r.announceIfDue(ctx, h, now)
	}
}

// kernelOp is Binder.Bind or Binder.Renew.
type kernelOp func(ctx context.Context, link string, a Addr, validFor time.Duration) error

// bindKernel binds or renews d with a full lease, by op. A failure is logged
// once, as msg, and the first success after it too.
func (r *Reconciler) bindKernel(ctx context.Context, op kernelOp, d ResolvedVIP, term uint64, msg string) bool {
	a := d.Addr()
	key := "bind " + a.Prefix.Addr().String()
	if err := op(ctx, d.Link, a, r.lease); err != nil {
		r.errs.failed(key, msg, err, "vip", a.Prefix, "link", d.Link, "term", term)
		return false
	}
	if r.errs.clear(key) {
		r.log.Info("binding VIP works again", "vip", a.Prefix, "link", d.Link)
	}
	return true
}

// keep handles a desired VIP the pass's reading found with raftvip's mark: it
// is adopted if another run bound it, announced again in a new term, and
// renewed when due.
func (r *Reconciler) keep(ctx context.Context, d ResolvedVIP, term uint64, now time.Time) {
	h := r.held[d.VIP.Prefix.Addr()]
	switch {
	case h == nil:
		// Left by an earlier run, perhaps with a longer lifetime: renew it to
		// set ours, and announce it like any new hold.
		if r.bindKernel(ctx, r.binder.Renew, d, term, "cannot bind VIP") {
			r.startHold(ctx, d, term, now)
		}
		return
	case h.term != term:
		// A holder that reconfirms ownership in a new term announces again:
		// clients may have followed another claimant meanwhile (docs/design.md,
		// "Drop, then transfer").
		h.term, h.start, h.sent = term, now, 0
		r.log.Info("VIP held in a new term", "vip", h.Prefix, "link", h.Link, "term", term)
	}
	if now.Sub(h.renewed) <= r.lease/3 {
		return
	}
	if !r.bindKernel(ctx, r.binder.Renew, d, term, "cannot renew VIP lifetime") {
		return
	}
	h.renewed = now
	r.log.Debug("renewed VIP lifetime", "vip", h.Prefix, "link", h.Link, "lifetime", r.lease)
}

// releaseIdle releases the announcer on links that held a VIP before the pass
// and hold none now.
func (r *Reconciler) releaseIdle(before []string) {
	now := r.heldLinks()
	for _, link := range before {
		if !slices.Contains(now, link) {
			r.release(link)
		}
	}
}

func (r *Reconciler) release(link string) {
	if err := r.ann.Release(link); err != nil {
		r.log.Warn("cannot release announcer", "link", link, "err", err)
	}
}

// noteConflicts records the pass's conflicts for Conflicts and logs each once
// per episode: when it starts or its address in the way changes, and when it
// ends while the VIP is still desired (the address in the way was removed).
func (r *Reconciler) noteConflicts(cs []Conflict, want []fsm.VIP) {
	now := make(map[netip.Addr]Conflict, len(cs))
	for _, c := range cs {
		a := c.VIP.Prefix.Addr()
		now[a] = c
		if r.conflicts[a] != c {
			r.log.Error("VIP conflicts with an address raftvip did not add: not bound, not announced",
				"vip", c.VIP.Prefix, "link", c.At.Link, "addr", c.At.Prefix)
		}
	}
	for a, c := range r.conflicts {
		if _, still := now[a]; !still && slices.ContainsFunc(want, func(v fsm.VIP) bool { return v.Prefix.Addr() == a }) {
			r.log.Info("VIP conflict resolved", "vip", c.VIP.Prefix, "link", c.At.Link)
		}
	}
	r.conflicts = now
}

// noteForeign logs each managed address that raftvip did not add and leaves
// in place, once while it stays: a VIP equal to the node's own address.
func (r *Reconciler) noteForeign(bs []Binding) {
	now := make(map[Binding]bool, len(bs))
	for _, b := range bs {
		now[b] = true
		if !r.foreign[b] {
			r.log.Warn("address was not added by raftvip: left in place", "addr", b.Prefix, "link", b.Link)
		}
	}
	r.foreign = now
}
