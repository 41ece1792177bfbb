package netops_test

import (
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// TestLastPassAdvancesWithTheTicker: the watchdog relies on a pass at least
// once a second even when nothing pokes the reconciler; a holder passes every
// min(lease/4, 1s), which its lifetime renewals need, and a follower that holds
// nothing once a second. After each such period LastPass has moved on to it.
func TestLastPassAdvancesWithTheTicker(t *testing.T) {
	for _, tc := range []struct {
		name   string
		view   netops.View
		lease  time.Duration
		period time.Duration
	}{
		{"holder/1s", held(3, vip100), time.Second, 250 * time.Millisecond}, // lease/4
		{"holder/8s", held(3, vip100), 8 * time.Second, time.Second},        // capped at 1s
		{"follower/1s", following(vip100), time.Second, time.Second},        // idle
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, tc.view, func(c *netops.Config) { c.Lease = tc.lease })
				if !h.rec.LastPass().IsZero() {
					t.Fatalf("LastPass before Run = %v, want zero", h.rec.LastPass())
				}
				t0 := time.Now()
				h.start()
				if got := h.rec.LastPass(); !got.Equal(t0) {
					t.Fatalf("LastPass after the first pass = %v, want %v", got, t0)
				}
				for k := 1; k <= 6; k++ { // no poke
					sleep(tc.period)
					if got, want := h.rec.LastPass().Sub(t0), time.Duration(k)*tc.period; got != want {
						t.Fatalf("LastPass after %v without pokes = t0+%v, want t0+%v", want, got, want)
					}
				}
				h.stop()
			})
		})
	}
}

// TestIdleFollowerStillRepairsDrift: a follower that holds nothing passes
// only once a second, and still removes, within that second, an address with
// raftvip's mark that appears in its kernel (a second agent started by
// mistake on the host, a restore of an old interface config). A failed
// removal is retried at the holder's pace until it succeeds.
func TestIdleFollowerStillRepairsDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, following(vip100), nil).start()
		sleep(5*time.Second + 100*time.Millisecond)
		stray := netip.MustParsePrefix("192.0.2.100/32")
		h.fake.Fail(netopstest.Unbind, errors.New("resource busy"))
		t1 := time.Now()
		h.fake.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: stray}, Ours: true}, time.Hour)
		sleep(2 * time.Second)
		ms := time.Millisecond
		want(t, "removal attempts: the next idle pass, then every 250ms",
			[]time.Duration{900 * ms, 1150 * ms, 1400 * ms, 1650 * ms, 1900 * ms},
			h.since(t1, "unbind 192.0.2.100/32 eth0 failed"))
		h.fake.Fail(netopstest.Unbind, nil)
		sleep(250 * time.Millisecond)
		want(t, "left in the kernel", []netip.Prefix(nil), h.fake.Bound())
		h.stop()
	})
}
