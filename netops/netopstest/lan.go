package netopstest

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// LAN is a ledger shared by the fakes of several nodes. It records which node
// holds each VIP address and reports a violation the moment a second node binds
// an address another node still holds (its kernel lifetime not yet run out):
// the split-brain that raftvip exists to prevent. It is safe for concurrent use.
type LAN struct {
	t testing.TB

	mu         sync.Mutex
	holds      map[netip.Addr]map[string]time.Time // address → node → expiry
	violations []string
}

// NewLAN returns an empty ledger. A violation fails t with Errorf, which is safe
// from any goroutine; with a nil t violations are only recorded.
func NewLAN(t testing.TB) *LAN {
	return &LAN{t: t, holds: map[netip.Addr]map[string]time.Time{}}
}

// Fake returns a new fake kernel for node, reporting to this ledger.
func (l *LAN) Fake(node string) *Fake { return newFake(node, l) }

// Violations returns every double hold seen so far.
func (l *LAN) Violations() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.violations)
}

// Holders returns the nodes holding ip now, sorted.
func (l *LAN) Holders(ip netip.Addr) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live(ip, time.Now())
}

func (l *LAN) live(ip netip.Addr, now time.Time) []string {
	var out []string
	for node, exp := range l.holds[ip] {
		if exp.IsZero() || now.Before(exp) {
			out = append(out, node)
		}
	}
	slices.Sort(out)
	return out
}

// hold records that node bound ip until expires.
func (l *LAN) hold(node string, ip netip.Addr, expires, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, other := range l.live(ip, now) {
		if other == node {
			continue
		}
		v := fmt.Sprintf("%s bound by %s while %s holds it", ip, node, other)
		l.violations = append(l.violations, v)
		if l.t != nil {
			l.t.Errorf("split brain: %s", v)
		}
	}
	if l.holds[ip] == nil {
		l.holds[ip] = map[string]time.Time{}
	}
	l.holds[ip][node] = expires
}

// drop records that node no longer has ip.
func (l *LAN) drop(node string, ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.holds[ip], node)
}
