package netops_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// pausedView is a View whose next read can be held back, as a pass that read
// the view just before a handover resigned and has not reached its binds yet.
type pausedView struct {
	mu    sync.Mutex
	v     netops.View
	pause chan struct{} // the next read returns the view of its start once closed
}

func (p *pausedView) get() netops.View {
	p.mu.Lock()
	v, pause := p.v, p.pause
	p.pause = nil
	p.mu.Unlock()
	if pause != nil {
		<-pause
	}
	return v
}

func (p *pausedView) set(v netops.View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.v = v
}

// TestReleasedWaitsForAPassAfterTheCall: a leader whose claim has just
// committed resigns before its reconciler, already under way with the old
// view, has bound the VIP. Nothing is bound yet, so Held is empty, but that
// pass will bind. Released must not let the transfer start then: it returns
// only after a later pass, which read the resigned view, has unbound it.
func TestReleasedWaitsForAPassAfterTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		view := &pausedView{v: following(vip100)}
		h := newHarness(t, following(vip100), func(c *netops.Config) { c.View = view.get }).start()

		// The claim commits: the poked pass reads "holder" and is held back.
		resume := make(chan struct{})
		view.mu.Lock()
		view.v, view.pause = held(4, vip100), resume
		view.mu.Unlock()
		h.rec.Poke()
		synctest.Wait()
		// The leader resigns and asks whether the VIPs are gone.
		resigned := held(4, vip100)
		resigned.Leader = false
		view.set(resigned)
		var boundAtReturn []netip.Prefix
		done := make(chan error, 1)
		go func() {
			err := h.rec.Released(context.Background())
			boundAtReturn = h.fake.Bound()
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Released = %v with a pass that read the old view still under way", err)
		default:
		}
		want(t, "held while that pass runs", []netip.Prefix{}, h.rec.Held())

		close(resume)
		synctest.Wait()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Released = %v, want nil", err)
			}
		default:
			t.Fatal("Released has not returned after the pass that read the resigned view")
		}
		want(t, "bound when Released returned", []netip.Prefix(nil), boundAtReturn)
		// The held-back pass binds but does not announce: Released's poke
		// waits, so its view may be old.
		want(t, "kernel events", []string{bind100, unbind100, "release eth0"}, h.fake.Events())
		h.stop()
	})
}

// TestReleasedFailsWhileTheKernelKeepsTheVIP: an unbind that fails leaves
// the VIP held; Released gives up with ctx and names it, so that the caller
// can say what the kernel lifetime now has to bound. (ctx ends well within
// that lifetime, 1 s, after which the fake kernel drops the VIP itself.)
func TestReleasedFailsWhileTheKernelKeepsTheVIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100), nil).start()
		h.fake.Fail(netopstest.Unbind, errors.New("device or resource busy"))
		lost := held(3, vip100)
		lost.Leader = false
		h.mu.Lock()
		h.view = lost
		h.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		err := h.rec.Released(ctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), vip100.Prefix.String()) {
			t.Fatalf("Released = %v, want the deadline and %s named", err, vip100.Prefix)
		}
		h.fake.Fail(netopstest.Unbind, nil)
		if err := h.rec.Released(context.Background()); err != nil {
			t.Fatalf("Released after the kernel let go = %v", err)
		}
		h.stop()
	})
}

// TestReleasedAfterRun: once Run has returned, its final pass, which unbound
// everything, answers.
func TestReleasedAfterRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100), nil).start()
		h.stop()
		if err := h.rec.Released(context.Background()); err != nil {
			t.Fatalf("Released after Run = %v", err)
		}
	})
}
