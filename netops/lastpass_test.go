package netops_test

import (
	"testing"
	"testing/synctest"
	"time"
)

// TestLastPassAdvancesWithTheTicker: the watchdog relies on a pass at least
// every min(lease/4, 1s) even when nothing pokes the reconciler.
func TestLastPassAdvancesWithTheTicker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, following(vip100), nil)
		if !h.rec.LastPass().IsZero() {
			t.Fatalf("LastPass before Run = %v, want zero", h.rec.LastPass())
		}
		t0 := time.Now()
		h.start()
		if got := h.rec.LastPass(); !got.Equal(t0) {
			t.Fatalf("LastPass after the first pass = %v, want %v", got, t0)
		}
		sleep(time.Second) // lease 1s: a tick every 250ms, no poke
		if got := h.rec.LastPass().Sub(t0); got != time.Second {
			t.Fatalf("LastPass after 1s without pokes = t0+%v, want t0+1s", got)
		}
		h.stop()
	})
}
