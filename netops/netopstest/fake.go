// Package netopstest provides a recording fake of the netops kernel interfaces
// and a LAN ledger that catches two nodes holding one VIP, for tests that must
// not need root.
package netopstest

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/raftvip/raftvip/netops"
)

// Method names a Fake method, for error injection.
type Method string

// The methods whose errors Fail can inject.
const (
	Addrs    Method = "addrs"
	Bind     Method = "bind"
	Renew    Method = "renew"
	Unbind   Method = "unbind"
	Announce Method = "announce"
	Release  Method = "release"
)

// Event is one recorded call, with the time it was made (virtual time inside a
// testing/synctest bubble).
type Event struct {
	At   time.Time
	Text string
}

// entry is one address in the fake kernel.
type entry struct {
	netops.Addr
	expires time.Time // zero: forever, like the node's own addresses
	bound   bool      // raftvip's: added through Bind, or Put with Ours
	legacy  bool      // Put with Legacy
	// deprecated: preferred lifetime over, as every bound VIP's is.
	deprecated bool
}

// Fake is an in-memory kernel: a Binder and Announcer that records every
// change as an Event, and counts its reads (Reads). Addresses added by Bind
// carry raftvip's mark and expire after their lifetime, as in the kernel; Bind
// and Unbind refuse addresses without the mark as Netlink does, and Renew
// refuses them too, where the kernel would take them over, so that a test
// sees the reconciler renew what it should not. It is safe for concurrent use.
type Fake struct {
	node string
	lan  *LAN

	mu     sync.Mutex
	links  map[string][]entry
	fail   map[Method]error
	events []Event
	reads  Reads
}

// Reads is what the Fake's Addrs calls have read since the last Reset.
type Reads struct {
	// Calls counts the Addrs calls, Addrs the addresses they returned in
	// all: what reading the kernel cost.
	Calls, Addrs int
}

var (
	_ netops.Binder    = (*Fake)(nil)
	_ netops.Announcer = (*Fake)(nil)
)

// NewFake returns a fake kernel with no links and no LAN.
func NewFake() *Fake { return newFake("", nil) }

func newFake(node string, lan *LAN) *Fake {
	return &Fake{node: node, lan: lan, links: map[string][]entry{}, fail: map[Method]error{}}
}

// AddLink adds a link with the node's own, permanent addresses. Links.LinkFor
// finds the link by their subnets.
func (f *Fake) AddLink(name string, own ...netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range own {
		f.links[name] = append(f.links[name], entry{Addr: netops.Addr{Prefix: p}})
	}
	if _, ok := f.links[name]; !ok {
		f.links[name] = nil
	}
}

// Put places f on link as another program, or an earlier run, would, without
// recording it: f.Ours places a leftover of raftvip's, f.Legacy one of a
// version from before the mark, neither an operator's address such as the
// node's own. A validFor of 0 is forever. It replaces an address with
// f.Prefix and creates the link if needed.
func (f *Fake) Put(link string, a netops.Found, validFor time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := entry{Addr: a.Addr, bound: a.Ours, legacy: a.Legacy, deprecated: a.Deprecated || a.Ours || a.Legacy}
	if validFor > 0 {
		e.expires = time.Now().Add(validFor)
	}
	if i := f.index(link, a.Prefix); i >= 0 {
		f.links[link][i] = e
	} else {
		f.links[link] = append(f.links[link], e)
	}
}

// Fail makes every later call of m return err; a nil err heals it.
func (f *Fake) Fail(m Method, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[m] = err
}

// Delete removes p from link as an admin's `ip addr del` would, unrecorded. It
// reports whether p was there.
func (f *Fake) Delete(link string, p netip.Prefix) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remove(link, p)
}

// Bound returns the addresses added by Bind that are still present, sorted.
func (f *Fake) Bound() []netip.Prefix {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire()
	var out []netip.Prefix
	for _, es := range f.links {
		for _, e := range es {
			if e.bound {
				out = append(out, e.Prefix)
			}
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out
}

// Events returns a copy of the recorded calls, in order.
func (f *Fake) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.events))
	for i, e := range f.events {
		out[i] = e.Text
	}
	return out
}

// Timeline returns a copy of the recorded calls with their times.
func (f *Fake) Timeline() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// Reads returns what Addrs has read since the last Reset.
func (f *Fake) Reads() Reads {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reads
}

// Reset forgets the recorded calls and reads.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = nil
	f.reads = Reads{}
}

// Addrs implements netops.Binder. It is not recorded as an Event but counted
// in Reads.
func (f *Fake) Addrs(_ context.Context) (netops.Links, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire()
	if err := f.fail[Addrs]; err != nil {
		return nil, err
	}
	out := make(netops.Links, len(f.links))
	f.reads.Calls++
	for link, es := range f.links {
		fs := make([]netops.Found, len(es))
		for i, e := range es {
			fs[i] = netops.Found{Addr: e.Addr, Ours: e.bound, Legacy: e.legacy, Deprecated: e.deprecated}
		}
		out[link] = fs
		f.reads.Addrs += len(fs)
	}
	return out, nil
}

// Bind implements netops.Binder: it adds a, or replaces its label and lifetime.
func (f *Fake) Bind(_ context.Context, link string, a netops.Addr, validFor time.Duration) error {
	return f.put(Bind, link, a, validFor)
}

// Renew implements netops.Binder: it replaces a's label and lifetime, or adds
// it if it went.
func (f *Fake) Renew(_ context.Context, link string, a netops.Addr, validFor time.Duration) error {
	return f.put(Renew, link, a, validFor)
}

func (f *Fake) put(m Method, link string, a netops.Addr, validFor time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire()
	text := fmt.Sprintf("%s %s %s", m, a.Prefix, link)
	if a.Label != "" {
		text += " label=" + a.Label
	}
	text += fmt.Sprintf(" lft=%s", validFor)
	if err := f.failed(m, text, link); err != nil {
		return err
	}
	if i := slices.IndexFunc(f.links[link], func(e entry) bool { return !e.bound && e.Prefix.Addr() == a.Prefix.Addr() }); i >= 0 {
		f.record(text + " refused")
		return fmt.Errorf("%s %s: %s on %s was %w: left in place", m, a.Prefix, f.links[link][i].Prefix, link, netops.ErrForeign)
	}
	f.record(text)
	now := time.Now()
	e := entry{Addr: a, expires: now.Add(validFor), bound: true, deprecated: true}
	if i := f.index(link, a.Prefix); i >= 0 {
		f.links[link][i] = e
	} else {
		f.links[link] = append(f.links[link], e)
	}
	if f.lan != nil {
		f.lan.hold(f.node, a.Prefix.Addr(), e.expires, now)
	}
	return nil
}

// Unbind implements netops.Binder. An absent address is not an error; one
// that fo or the fake has without the mark and not Legacy is refused.
func (f *Fake) Unbind(_ context.Context, link string, fo netops.Found) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire()
	p := fo.Prefix
	text := fmt.Sprintf("unbind %s %s", p, link)
	if err := f.failed(Unbind, text, link); err != nil {
		return err
	}
	i := f.index(link, p)
	if !fo.Ours && !fo.Legacy || i >= 0 && !f.links[link][i].bound && !f.links[link][i].legacy {
		f.record(text + " refused")
		return fmt.Errorf("unbind %s: %s on %s was %w: left in place", p, p, link, netops.ErrForeign)
	}
	f.record(text)
	f.remove(link, p)
	return nil
}

// Announce implements netops.Announcer.
func (f *Fake) Announce(_ context.Context, link string, ip netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	text := fmt.Sprintf("announce %s %s", ip, link)
	if err := f.failed(Announce, text, ""); err != nil {
		return err
	}
	f.record(text)
	return nil
}

// Release implements netops.Announcer.
func (f *Fake) Release(link string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	text := "release " + link
	if err := f.failed(Release, text, ""); err != nil {
		return err
	}
	f.record(text)
	return nil
}

// failed records a failed call and returns its error: the injected one, or
// ErrNoLink when link is set but unknown.
func (f *Fake) failed(m Method, text, link string) error {
	err := f.fail[m]
	if _, ok := f.links[link]; err == nil && link != "" && !ok {
		err = fmt.Errorf("%s: %w: %s", m, netops.ErrNoLink, link)
	}
	if err != nil {
		f.record(text + " failed")
	}
	return err
}

func (f *Fake) record(text string) {
	f.events = append(f.events, Event{At: time.Now(), Text: text})
}

func (f *Fake) index(link string, p netip.Prefix) int {
	return slices.IndexFunc(f.links[link], func(e entry) bool { return e.Prefix == p })
}

func (f *Fake) remove(link string, p netip.Prefix) bool {
	i := f.index(link, p)
	if i < 0 {
		return false
	}
	f.links[link] = slices.Delete(f.links[link], i, i+1)
	if f.lan != nil && !f.has(p.Addr()) {
		f.lan.drop(f.node, p.Addr())
	}
	return true
}

func (f *Fake) has(a netip.Addr) bool {
	for _, es := range f.links {
		if slices.ContainsFunc(es, func(e entry) bool { return e.bound && e.Prefix.Addr() == a }) {
			return true
		}
	}
	return false
}

// expire drops the addresses whose lifetime ran out, as the kernel does, and
// records it: a VIP that expires while held is a missed renewal.
func (f *Fake) expire() {
	now := time.Now()
	var gone []netops.Binding
	for _, link := range slices.Sorted(maps.Keys(f.links)) {
		for _, e := range f.links[link] {
			if !e.expires.IsZero() && !now.Before(e.expires) {
				gone = append(gone, netops.Binding{Link: link, Prefix: e.Prefix})
			}
		}
	}
	for _, b := range gone {
		f.record(fmt.Sprintf("expire %s %s", b.Prefix, b.Link))
		f.remove(b.Link, b.Prefix)
	}
}
