package netops_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/netops"
)

// TestLastPassAdvancesWithTheTicker: the watchdog relies on a pass at least
// every min(lease/4, 1s) even when nothing pokes the reconciler; after each
// such period LastPass has moved on to it.
func TestLastPassAdvancesWithTheTicker(t *testing.T) {
	for _, tc := range []struct {
		lease, period time.Duration
	}{
		{time.Second, 250 * time.Millisecond}, // lease/4
		{8 * time.Second, time.Second},        // capped at 1s
	} {
		t.Run(tc.lease.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t, following(vip100), func(c *netops.Config) { c.Lease = tc.lease })
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
						t.Fatalf("lease %s: LastPass after %v without pokes = t0+%v, want t0+%v", tc.lease, want, got, want)
					}
				}
				h.stop()
			})
		})
	}
}
