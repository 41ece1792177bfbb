package netops_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/netops"
)

// lapsed is held(term) after the cluster's quorum lease ran out.
func lapsed(term uint64) netops.View {
	v := held(term, vip100)
	v.Leader, v.Lapsed, v.Why = false, true, "quorum lease lapsed: no quorum proof for 160ms (leader lease 150ms)"
	return v
}

// onHeldLog records OnHeld's calls.
type onHeldLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *onHeldLog) hook(c *netops.Config) {
	c.OnHeld = func(ps []netip.Prefix, term uint64) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.calls = append(l.calls, fmt.Sprintf("%v term %d", ps, term))
	}
}

func (l *onHeldLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// TestDropSaysWhy: every drop is logged once, at WARN, with the reason the
// cluster gave, and shutdown says so too.
func TestDropSaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(4, vip100), nil).start()
		h.set(lapsed(4))
		sleep(2 * time.Second) // many passes: still one line
		want(t, "drop lines", 1, h.logs.Count("dropping VIPs"))
		if !strings.Contains(h.logs.String(), `level=WARN msg="dropping VIPs" component=reconciler vips=[192.0.2.100/24] reason="quorum lease lapsed`) {
			t.Errorf("no WARN line with the lapse as reason:\n%s", h.logs)
		}
		h.set(held(4, vip100))
		h.stop()
		want(t, "drop lines", 2, h.logs.Count("dropping VIPs"))
		if !strings.Contains(h.logs.String(), `reason="shutting down"`) {
			t.Errorf("shutdown drop without its reason:\n%s", h.logs)
		}
	})
}

// TestDropReasons: without a reason from the cluster, the reconciler says
// what it saw.
func TestDropReasons(t *testing.T) {
	for name, tt := range map[string]struct {
		to   netops.View
		says string
	}{
		"follower":         {following(vip100), `reason="not the leader"`},
		"another's claim":  {func() netops.View { v := held(5, vip100); v.State.Owner.Node = "n2"; return v }(), `reason="the VIPs' owner is n2 (term 5)"`},
		"no claim in term": {func() netops.View { v := held(4, vip100); v.Term = 5; return v }(), `reason="no committed claim in term 5 (the last is of term 4)"`},
		"removed":          {held(4), `reason="removed from the cluster's VIP set"`},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, held(4, vip100), nil).start()
				h.set(tt.to)
				h.stop()
				if !strings.Contains(h.logs.String(), tt.says) {
					t.Errorf("no drop line with %s:\n%s", tt.says, h.logs)
				}
			})
		})
	}
}

// TestOnHeldWaitsOutALapse: a drop on a lapsed quorum lease that is bound
// again within the grace in the same term reaches no hook; one that lasts
// past the grace, or turns into lost leadership, does.
func TestOnHeldWaitsOutALapse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l onHeldLog
		h := newHarness(t, held(4, vip100), func(c *netops.Config) {
			l.hook(c)
			c.NotifyGrace = 500 * time.Millisecond
		}).start()
		h.set(lapsed(4))
		want(t, "bound during the lapse", []netip.Prefix(nil), h.fake.Bound())
		sleep(100 * time.Millisecond)
		h.set(held(4, vip100))
		sleep(2 * time.Second)
		want(t, "OnHeld after a short lapse", []string{"[192.0.2.100/24] term 4"}, l.get())

		h.set(lapsed(4))
		sleep(400 * time.Millisecond)
		want(t, "OnHeld before the grace ran out", 1, len(l.get()))
		sleep(200 * time.Millisecond)
		want(t, "OnHeld after the grace", []string{"[192.0.2.100/24] term 4", "[] term 4"}, l.get())

		h.set(held(4, vip100))
		h.set(lapsed(4))
		h.set(following(vip100))
		want(t, "OnHeld once leadership is lost", []string{"[192.0.2.100/24] term 4", "[] term 4",
			"[192.0.2.100/24] term 4", "[] term 3"}, l.get())
		h.stop()
	})
}

// TestOnHeldShutdownDuringLapse: shutdown reports a drop at once, even one
// that was waiting out a lapse.
func TestOnHeldShutdownDuringLapse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l onHeldLog
		h := newHarness(t, held(4, vip100), l.hook).start()
		h.set(lapsed(4))
		h.stop()
		want(t, "OnHeld", []string{"[192.0.2.100/24] term 4", "[] term 4"}, l.get())
	})
}
