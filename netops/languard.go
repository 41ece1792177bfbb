package netops

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

// Prober asks the LAN whether another host answers for an address, before
// this node binds it: an ARP probe for IPv4 (RFC 5227, as `arping -D`), a
// neighbour solicitation for IPv6.
type Prober interface {
	// Probe returns the MAC of a host other than this one that answered for
	// ip on link within the prober's short wait, or nil if none did.
	Probe(ctx context.Context, link string, ip netip.Addr) (net.HardwareAddr, error)
}

// Watcher reports the other hosts that speak for addresses on a link.
type Watcher interface {
	// Watch reads link's ARP packets (ip6 false) or neighbour
	// advertisements (ip6 true) until ctx ends, and calls seen for each one
	// that a MAC other than link's own sent for an address. It returns nil
	// once ctx ends, or an error if it cannot read.
	Watch(ctx context.Context, link string, ip6 bool, seen func(Sighting)) error
}

// Sighting is an ARP packet or neighbour advertisement from another host for
// IP, seen on Link.
type Sighting struct {
	Link string
	IP   netip.Addr
	MAC  net.HardwareAddr
}

const (
	// probeBackoffMin and probeBackoffMax bound the wait before a VIP found
	// in use is probed again: soon enough to bind it within seconds of the
	// other host letting go, rarely enough to be no burden on the LAN.
	probeBackoffMin = time.Second
	probeBackoffMax = 30 * time.Second
	// rogueQuiet ends an episode of another host announcing a held VIP: after
	// this long without hearing it, a new sighting is logged again.
	rogueQuiet = 30 * time.Second
	// rogueAnnounceGap limits the re-announcements answering another host's,
	// so that two hosts announcing in turn do not flood the LAN.
	rogueAnnounceGap = time.Second
	// maxProbes bounds the probes under way at once. Probes for different
	// addresses do not disturb each other (each has its own socket and
	// counts only an answer for its own address), and one at a time made a
	// cluster's first claim of 1024 VIPs take 51 s at 50 ms a probe; 64 at
	// a time wait 16 rounds of 50 ms (3.4 s in all, opening the sockets and
	// binding included, in a bench run: docs/benchmarks.md). The bound keeps
	// the rest modest: every probe holds a raw socket while it waits and each
	// such socket receives a copy of every ARP frame on the link (64 sockets,
	// 64 probes: some 4000 copies a round), and the LAN sees at most 64
	// probes per wait, about 1300 small broadcast frames a second while it
	// lasts.
	maxProbes = 64
)

// Why a VIP is probed before its first bind, and not at takeover.
//
// A VIP that was added by mistake with another host's address (a client's, a
// server's, a stale keepalived's) must never be bound: binding and announcing
// it would cut that host off. So before this node binds a VIP that no member
// of the cluster can have bound, it asks the LAN; an answer from another MAC
// means the address is in use, and the VIP is left unbound (and probed again
// with backoff, so it is bound once the other host lets go).
//
// But a failover must never wait for its own previous holder: a leader that was
// SIGKILLed keeps its VIP in the kernel for up to the VIP lease, its kernel
// answers a probe, and members' MACs are not known to the cluster. So a VIP
// is probed only when no other member may hold it:
//   - when the node first holds in a term, the VIPs of the set are inherited
//     if any other node has ever owned the VIPs (fsm.Owner.Previous): they
//     are bound at once, as before. With no previous owner (the cluster's
//     first claim, seeded VIPs included) every VIP is probed;
//   - a VIP that enters the set while the node holds (added through the API)
//     has never been held by anyone: it is probed;
//   - a VIP this node found in use stays "in use" (probed, not bound) across
//     its own terms, until another node owns the VIPs: that node inherits it;
//   - a VIP this node bound earlier in the same term and dropped when its
//     quorum lease lapsed is bound again at once when the lease is proved
//     again: it was on this host moments ago, and a probe would add its wait
//     (some 50 ms) to an outage the client already sees.
//
// What this does not cover: a VIP found in use that then moves with a
// failover is bound by the new holder without a probe (the record is not
// replicated). The leader narrows that to VIPs forced in (`vip add -force`)
// or taken by a host after they were added, by asking before it accepts a
// VIP (InUse). The watcher sees the other host as soon as it speaks ARP or
// NDP for the address, and says so (logs, metric, status).

// probeStep is what the reconciler does with a desired VIP it does not hold.
type probeStep int

const (
	stepBind  probeStep = iota // bind it now
	stepProbe                  // start a probe; bind once it comes back unanswered
	stepWait                   // a probe is under way, or the address is in use until the next probe
)

// nextProbeStep decides for one desired VIP not yet held. inherited VIPs (see
// above) are bound at once; the others are probed first, and one found in use
// (use non-nil) is probed again only once its backoff has passed.
func nextProbeStep(inherited, cleared, probing bool, use *inUse, now time.Time) probeStep {
	switch {
	case probing:
		return stepWait
	case cleared:
		return stepBind
	case use != nil && now.Before(use.next):
		return stepWait
	case use != nil:
		return stepProbe
	case inherited:
		return stepBind
	}
	return stepProbe
}

// inheritedVIPs returns the VIPs of want that a previous owner may still have
// bound when this node starts to hold them: all of them if another node has
// ever owned the VIPs, none on the cluster's first claim.
func inheritedVIPs(o fsm.Owner, want []fsm.VIP) map[netip.Addr]bool {
	if o.Previous == "" {
		return nil
	}
	out := make(map[netip.Addr]bool, len(want))
	for _, v := range want {
		out[v.Prefix.Addr()] = true
	}
	return out
}

// probeBackoff is the wait before the n-th probe (from 1) of a VIP found in use.
func probeBackoff(n int) time.Duration {
	d := probeBackoffMin
	for i := 1; i < n && d < probeBackoffMax; i++ {
		d *= 2
	}
	return min(d, probeBackoffMax)
}

// inUse is a desired VIP that another host answered for: not bound.
type inUse struct {
	vip    fsm.VIP
	link   string
	mac    string
	probes int       // probes answered in a row
	next   time.Time // when to probe again
}

// rogue is another host announcing a VIP this node holds.
type rogue struct {
	vip       fsm.VIP
	link      string
	mac       string
	last      time.Time // last sighting
	announced time.Time // last re-announcement in answer
	// owed: a sighting came within rogueAnnounceGap of the last answer and
	// went unanswered. It is answered once the gap has passed: otherwise the
	// other host's last word stays in the clients' neighbour caches, and
	// they send the VIP's traffic there until those entries go stale (tens
	// of seconds on Linux).
	owed bool
}

type probeResult struct {
	vip  ResolvedVIP
	mac  net.HardwareAddr
	err  error
	term uint64
}

type watchKey struct {
	link string
	ip6  bool
}

type watch struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done is closed
}

// lanGuard keeps a VIP off the LAN while another host answers for it, and
// notices another host announcing a VIP this node holds. Its maps are touched
// only by the reconciler's Run goroutine; the probes and watches it starts
// report through channels and are waited for by Run (stop).
type lanGuard struct {
	node    string
	prober  Prober
	watcher Watcher
	log     *slog.Logger

	holding bool
	term    uint64
	// inherited are the VIPs bound without a probe in term: those of a
	// previous owner, and those this node has bound in term, so that holding
	// again after a lapse of the quorum lease (same term) probes nothing.
	inherited map[netip.Addr]bool
	probing   map[netip.Addr]bool
	cleared   map[netip.Addr]bool
	inUse     map[netip.Addr]*inUse
	rogues    map[netip.Addr]*rogue
	watches   map[watchKey]*watch

	results chan probeResult
	seen    chan Sighting
	wg      sync.WaitGroup

	mu      sync.Mutex
	watched map[netip.Addr]string // held VIP → link, for the watchers' filter

	// episodes counts episodes of another host answering for, or announcing, a VIP.
	episodes atomic.Uint64
}

func newLANGuard(node string, p Prober, w Watcher, log *slog.Logger) *lanGuard {
	return &lanGuard{
		node: node, prober: p, watcher: w, log: log,
		inherited: map[netip.Addr]bool{}, probing: map[netip.Addr]bool{}, cleared: map[netip.Addr]bool{},
		inUse: map[netip.Addr]*inUse{}, rogues: map[netip.Addr]*rogue{}, watches: map[watchKey]*watch{},
		results: make(chan probeResult, maxProbes), seen: make(chan Sighting, 64),
	}
}

// screen returns the VIPs of binds that may be bound now and starts the
// probes the others need. It runs on every pass (binds may be empty), so it
// also follows the holding episodes.
func (g *lanGuard) screen(ctx context.Context, binds []ResolvedVIP, v View, want []fsm.VIP, now time.Time) []ResolvedVIP {
	if g.prober == nil {
		return binds
	}
	g.follow(v, want)
	out := make([]ResolvedVIP, 0, len(binds))
	for _, d := range binds {
		a := d.VIP.Prefix.Addr()
		switch nextProbeStep(g.inherited[a], g.cleared[a], g.probing[a], g.inUse[a], now) {
		case stepBind:
			delete(g.cleared, a)
			g.inherited[a] = true
			out = append(out, d)
		case stepProbe:
			// Past the bound the VIP waits for a later pass: every result
			// that comes in wakes one.
			if len(g.probing) < maxProbes {
				g.startProbe(ctx, d, v.Term)
			}
		}
	}
	// A clearance is for the pass right after its probe: a VIP removed
	// meanwhile and added again later is probed again.
	for a := range g.cleared {
		if !slices.ContainsFunc(binds, func(d ResolvedVIP) bool { return d.VIP.Prefix.Addr() == a }) {
			delete(g.cleared, a)
		}
	}
	return out
}

// follow tracks the holding episodes: the inherited VIPs when one begins
// (kept for the rest of the term), and the records that lose their meaning
// when it ends or another node owns the VIPs.
func (g *lanGuard) follow(v View, want []fsm.VIP) {
	if o := v.State.Owner.Node; o != "" && o != g.node {
		// Another node owns the VIPs and binds them without a probe.
		g.forgetInUse("another node owns the VIPs")
	}
	inSet := func(a netip.Addr) bool {
		return slices.ContainsFunc(v.State.VIPs, func(x fsm.VIP) bool { return x.Prefix.Addr() == a })
	}
	for a, u := range g.inUse {
		if !inSet(a) {
			g.log.Info("VIP no longer in the set: no longer probed", "vip", u.vip.Prefix)
			delete(g.inUse, a)
		}
	}
	if v.Term != g.term {
		g.inherited = map[netip.Addr]bool{}
	}
	// A VIP that leaves the set and comes back enters it anew: probed.
	maps.DeleteFunc(g.inherited, func(a netip.Addr, _ bool) bool { return !inSet(a) })
	holding := len(want) > 0
	switch {
	case !holding:
		g.cleared = map[netip.Addr]bool{}
	case !g.holding || g.term != v.Term:
		maps.Copy(g.inherited, inheritedVIPs(v.State.Owner, want))
	}
	g.holding, g.term = holding, v.Term
}

func (g *lanGuard) forgetInUse(why string) {
	for a, u := range g.inUse {
		g.log.Info("VIP was in use on the LAN: record dropped", "vip", u.vip.Prefix, "mac", u.mac, "why", why)
		delete(g.inUse, a)
	}
}

func (g *lanGuard) startProbe(ctx context.Context, d ResolvedVIP, term uint64) {
	g.probing[d.VIP.Prefix.Addr()] = true
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		mac, err := g.prober.Probe(ctx, d.Link, d.VIP.Prefix.Addr())
		select {
		case g.results <- probeResult{vip: d, mac: mac, err: err, term: term}:
		case <-ctx.Done():
		}
	}()
}

// probedAll takes res and every other result already in, so that one pass
// binds all the VIPs they cleared rather than a pass per result.
func (g *lanGuard) probedAll(res probeResult, errs *errLog, now time.Time) {
	for {
		g.probed(res, errs, now)
		select {
		case res = <-g.results:
		default:
			return
		}
	}
}

// probed takes a probe's result: an unanswered VIP is cleared for the next
// pass, an answered one recorded in use (and logged once per episode). A
// probe that failed is retried as if answered, without the log: binding an
// address nobody could check is what this guard is there to prevent.
func (g *lanGuard) probed(res probeResult, errs *errLog, now time.Time) {
	a := res.vip.VIP.Prefix.Addr()
	delete(g.probing, a)
	key := "probe " + a.String()
	u := g.inUse[a]
	if res.err != nil {
		errs.failed(key, "cannot probe the LAN for VIP: not bound", res.err, "vip", res.vip.VIP.Prefix, "link", res.vip.Link)
		if u == nil {
			u = &inUse{vip: res.vip.VIP, link: res.vip.Link}
			g.inUse[a] = u
		}
		u.probes++
		u.next = now.Add(probeBackoff(u.probes))
		return
	}
	if errs.clear(key) {
		g.log.Info("probing the LAN for VIP works again", "vip", res.vip.VIP.Prefix, "link", res.vip.Link)
	}
	if res.mac == nil {
		if u != nil && u.mac != "" {
			g.log.Info("VIP no longer answered on the LAN: binding it", "vip", res.vip.VIP.Prefix, "link", res.vip.Link, "mac", u.mac)
		}
		delete(g.inUse, a)
		g.cleared[a] = true
		return
	}
	mac := res.mac.String()
	if mac == "" {
		mac = "unknown" // an answer without a link-layer address
	}
	if u == nil || u.mac != mac {
		g.episodes.Add(1)
		g.log.Error("VIP answered by another host on the LAN: not bound, not announced; probing again with backoff",
			"vip", res.vip.VIP.Prefix, "link", res.vip.Link, "mac", mac, "term", res.term)
		u = &inUse{vip: res.vip.VIP, link: res.vip.Link, mac: mac}
		g.inUse[a] = u
	}
	u.probes++
	u.next = now.Add(probeBackoff(u.probes))
}

// judgeSighting decides on another host's packet for a held VIP: whether it
// starts a new episode (to log) and whether to announce again now.
func judgeSighting(r *rogue, mac string, now time.Time) (newEpisode, announce bool) {
	if r == nil || r.mac != mac || now.Sub(r.last) > rogueQuiet {
		return true, true
	}
	return false, now.Sub(r.announced) >= rogueAnnounceGap
}

// sighted handles a watcher's sighting on Run's goroutine; announce
// re-announces the hold.
func (g *lanGuard) sighted(s Sighting, h *hold, now time.Time, announce func(*hold)) {
	if h == nil || h.Link != s.Link {
		return
	}
	a := s.IP
	mac := s.MAC.String()
	r := g.rogues[a]
	isNew, again := judgeSighting(r, mac, now)
	if isNew {
		g.episodes.Add(1)
		g.log.Error("another host announces a VIP this node holds: announcing it again",
			"vip", h.Prefix, "link", h.Link, "mac", mac, "term", h.term)
		r = &rogue{vip: fsm.VIP{Prefix: h.Prefix}, link: h.Link, mac: mac}
		g.rogues[a] = r
	}
	r.last = now
	if !again {
		r.owed = true
		return
	}
	r.announced, r.owed = now, false
	announce(h)
}

// answerOwed reports whether a sighting left unanswered by the gap is due
// for its answer at now.
func answerOwed(r *rogue, now time.Time) bool {
	return r.owed && now.Sub(r.announced) >= rogueAnnounceGap
}

// answerRogues announces again the held VIPs whose owed answer is due.
func (g *lanGuard) answerRogues(held map[netip.Addr]*hold, now time.Time, announce func(*hold)) {
	for a, r := range g.rogues {
		if h := held[a]; h != nil && answerOwed(r, now) {
			r.announced, r.owed = now, false
			announce(h)
		}
	}
}

// expireRogues ends the episodes of VIPs no longer held, or not heard from for
// rogueQuiet.
func (g *lanGuard) expireRogues(held map[netip.Addr]*hold, now time.Time) {
	for a, r := range g.rogues {
		switch {
		case held[a] == nil:
			delete(g.rogues, a)
		case now.Sub(r.last) > rogueQuiet:
			g.log.Info("no other host announces the VIP any more", "vip", r.vip.Prefix, "link", r.link, "mac", r.mac)
			delete(g.rogues, a)
		}
	}
}

// syncWatches runs one watcher per link and family with a held VIP, and none
// elsewhere, so a node that holds nothing listens to nothing. Finished
// watches (an error) are reaped, logged once and started again.
func (g *lanGuard) syncWatches(ctx context.Context, held map[netip.Addr]*hold, errs *errLog) {
	if g.watcher == nil {
		return
	}
	want := map[watchKey]bool{}
	watched := make(map[netip.Addr]string, len(held))
	for a, h := range held {
		want[watchKey{link: h.Link, ip6: a.Is6()}] = true
		watched[a] = h.Link
	}
	g.mu.Lock()
	g.watched = watched
	g.mu.Unlock()
	for k, w := range g.watches {
		select {
		case <-w.done:
			delete(g.watches, k)
			if w.err != nil {
				errs.failed("watch "+k.link, "cannot watch the LAN for other hosts announcing VIPs", w.err, "link", k.link, "ipv6", k.ip6)
			}
			continue
		default:
		}
		if !want[k] {
			w.cancel()
		}
	}
	for k := range want {
		if g.watches[k] == nil {
			g.startWatch(ctx, k)
		}
	}
}

func (g *lanGuard) startWatch(ctx context.Context, k watchKey) {
	wctx, cancel := context.WithCancel(ctx)
	w := &watch{cancel: cancel, done: make(chan struct{})}
	g.watches[k] = w
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(w.done)
		defer cancel()
		w.err = g.watcher.Watch(wctx, k.link, k.ip6, g.report)
	}()
}

// report is the watchers' callback: it passes on sightings of held VIPs. A
// full channel drops one; another host that keeps announcing is seen again.
func (g *lanGuard) report(s Sighting) {
	g.mu.Lock()
	link, ok := g.watched[s.IP]
	g.mu.Unlock()
	if !ok || link != s.Link {
		return
	}
	select {
	case g.seen <- s:
	default:
	}
}

// stop cancels the watches and waits for them and the probes. Run calls it
// once its context is done, so the probes see it too.
func (g *lanGuard) stop() {
	for _, w := range g.watches {
		w.cancel()
	}
	g.wg.Wait()
	g.watches = map[watchKey]*watch{}
}

// conflicts returns the VIPs another host answers for or announces, for
// Conflicts.
func (g *lanGuard) conflicts() []Conflict {
	var out []Conflict
	for _, u := range g.inUse {
		if u.mac != "" {
			out = append(out, Conflict{VIP: u.vip, At: Binding{Link: u.link}, MAC: u.mac})
		}
	}
	for _, r := range g.rogues {
		out = append(out, Conflict{VIP: r.vip, At: Binding{Link: r.link}, MAC: r.mac, Held: true})
	}
	return out
}

// String says what the conflict is, for status:
// "192.0.2.50/24 not bound: answered by 02:00:00:00:00:09 on the LAN (eth0)".
func (c Conflict) String() string {
	switch {
	case c.MAC != "" && c.Held:
		return fmt.Sprintf("%s held, but also announced by %s on the LAN (%s): announced again", c.VIP.Prefix, c.MAC, c.At.Link)
	case c.MAC != "":
		return fmt.Sprintf("%s not bound: answered by %s on the LAN (%s)", c.VIP.Prefix, c.MAC, c.At.Link)
	}
	return fmt.Sprintf("%s not bound: %s already has %s, not added by raftvip", c.VIP.Prefix, c.At.Link, c.At.Prefix)
}

// guardLAN runs after each pass: the watchers follow the held VIPs, the
// episodes of VIPs no longer held or quiet end, and another host's
// announcement left unanswered is answered once the gap allows.
func (r *Reconciler) guardLAN(ctx context.Context, now time.Time) {
	r.lan.expireRogues(r.held, now)
	r.lan.answerRogues(r.held, now, func(h *hold) { r.announce(ctx, h) })
	r.lan.syncWatches(ctx, r.held, &r.errs)
}

// sighted answers another host announcing a held VIP by announcing it again.
// The sighting can be the first thing a thawed leader reads: like every other
// announcement it goes by the view read now, and a VIP the view no longer
// gives this node is left to the pass that follows, which drops it.
func (r *Reconciler) sighted(ctx context.Context, s Sighting) {
	if v := r.view(); !v.State.HeldBy(r.node, v.Leader, v.Term) {
		return
	}
	r.lan.sighted(s, r.held[s.IP], time.Now(), func(h *hold) { r.announce(ctx, h) })
}
