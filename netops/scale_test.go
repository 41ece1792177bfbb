package netops_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// manyVIPs returns n IPv6 VIPs in eth0's subnet (own6), in address order.
func manyVIPs(n int) []fsm.VIP {
	vs := make([]fsm.VIP, n)
	for i := range vs {
		vs[i] = fsm.VIP{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8::1:%x/64", i+1))}
	}
	return vs
}

// passCost is what the passes in one second of a holder's steady state cost:
// the reads of the kernel, the addresses they read and the kernel changes.
type passCost struct {
	reads, addrs, changes int
}

// steadyPasses is the number of passes in steadyCost's second: a tick every
// 250 ms with the 1 s lease, and nothing else wakes the reconciler.
const steadyPasses = 4

// steadyCost holds n VIPs, lets the announcement bursts pass, then measures
// one second of passes that only renew.
func steadyCost(t *testing.T, n int) passCost {
	t.Helper()
	var c passCost
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, manyVIPs(n)...), nil).start()
		sleep(3*time.Second + 100*time.Millisecond)
		if got := len(h.fake.Bound()); got != n {
			t.Fatalf("%d of %d VIPs bound", got, n)
		}
		h.fake.Reset()
		t0 := h.rec.LastPass()
		sleep(time.Second)
		if d := h.rec.LastPass().Sub(t0); d != time.Second {
			t.Fatalf("last pass %s after the window began, want the 4th tick at 1s", d)
		}
		r := h.fake.Reads()
		c = passCost{reads: r.Calls, addrs: r.Addrs, changes: len(h.fake.Events())}
		want(t, "expiries", 0, count(h.fake.Events(), "expire"))
		h.stop()
	})
	return c
}

// TestPassCostIsLinearInVIPs: a pass reads the kernel once, whatever the
// number of VIPs, and makes at most one change per VIP, so that the cost of a
// pass grows with the VIP count, not its square (a read per VIP for its
// link, and one before every bind and renewal, made a pass over 1024 VIPs
// take longer than the 1 s lease: docs/benchmarks.md, "Cluster size and many
// VIPs").
func TestPassCostIsLinearInVIPs(t *testing.T) {
	const own = 2 // eth0's own addresses
	perPass := map[int]int{}
	for _, n := range []int{10, 1000} {
		c := steadyCost(t, n)
		if c.reads != steadyPasses {
			t.Errorf("%d VIPs: %d reads in %d passes, want one each", n, c.reads, steadyPasses)
		}
		if c.addrs != steadyPasses*(n+own) {
			t.Errorf("%d VIPs: %d addresses read in %d passes, want each pass to read the %d once", n, c.addrs, steadyPasses, n+own)
		}
		// Renewed once a third of the 1 s lease has passed: every other tick.
		if c.changes != 2*n {
			t.Errorf("%d VIPs: %d kernel changes in %d passes, want %d renewals", n, c.changes, steadyPasses, 2*n)
		}
		perPass[n] = (c.reads + c.addrs + c.changes) / steadyPasses
	}
	if r := perPass[1000] / perPass[10]; r > 2*1000/10 {
		t.Errorf("a pass over 1000 VIPs costs %d times one over 10 (%d, %d calls and addresses), want about 100",
			r, perPass[1000], perPass[10])
	}
}

// TestDropManyVIPsReadsOnce: dropping 1000 VIPs is one read and an unbind
// each.
func TestDropManyVIPsReadsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vips := manyVIPs(1000)
		h := newHarness(t, held(3, vips...), nil).start()
		h.fake.Reset()
		h.set(following(vips...))
		want(t, "reads", netopstest.Reads{Calls: 1, Addrs: 1002}, h.fake.Reads())
		want(t, "unbinds", 1000, count(h.fake.Events(), "unbind "))
		want(t, "bound", 0, len(h.fake.Bound()))
		h.stop()
	})
}

// TestFirstClaimProbesConcurrently: the cluster's first claim of 1000 VIPs
// probes them up to 64 at a time, not one after another (50 s at 50 ms a
// probe), and still leaves out the one another host answers for.
func TestFirstClaimProbesConcurrently(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vips := manyVIPs(1000)
		taken := vips[500].Prefix
		hosts := netopstest.NewHosts()
		hosts.Wait(netops.DefaultProbeWait)
		hosts.Claim(taken.Addr(), otherMAC)
		h := guarded(t, held(2, vips...), hosts).start()
		// 16 rounds of 64 probes, 50 ms each.
		sleep(16 * netops.DefaultProbeWait)
		bound := h.fake.Bound()
		if len(bound) != 999 || slices.Contains(bound, taken) {
			t.Fatalf("%d VIPs bound 800 ms after the claim (%s among them: %t), want all 999 free ones",
				len(bound), taken, slices.Contains(bound, taken))
		}
		if n := hosts.MostInFlight(); n != 64 {
			t.Errorf("at most %d probes under way at once, want 64", n)
		}
		want(t, "probes", 1000, len(hosts.Probes()))
		want(t, "conflicts", []netops.Conflict{{VIP: vips[500], At: netops.Binding{Link: "eth0"}, MAC: otherMAC.String()}},
			h.rec.Conflicts())
		h.stop()
	})
}

// flipBinder calls flip from within the after-th Bind, as a step-down would
// come in the middle of a pass.
type flipBinder struct {
	netops.Binder
	after, binds int
	flip         func()
}

func (f *flipBinder) Bind(ctx context.Context, link string, a netops.Addr, validFor time.Duration) error {
	if f.binds++; f.binds == f.after {
		f.flip()
	}
	return f.Binder.Bind(ctx, link, a, validFor)
}

// TestStepDownInTheMiddleOfAPass: a pass binding 1000 VIPs learns of a step-
// down (a poke) during its 100th bind: it binds no more, does not announce
// the 100th (the 99 before were announced on a view then current), and the
// next pass, on the new view, unbinds the 100.
func TestStepDownInTheMiddleOfAPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vips := manyVIPs(1000)
		var h *harness
		h = newHarness(t, held(3, vips...), func(c *netops.Config) {
			c.Binder = &flipBinder{Binder: c.Binder, after: 100, flip: func() {
				h.mu.Lock()
				h.view = following(vips...)
				h.mu.Unlock()
				h.rec.Poke()
			}}
		})
		h.start()
		sleep(3 * time.Second)
		ev := h.fake.Events()
		want(t, "binds", 100, count(ev, "bind "))
		want(t, "announcements", 99, count(ev, "announce "))
		if i := slices.Index(ev, "bind 2001:db8::1:64/64 eth0 lft=1s"); i < 0 || count(ev[i:], "announce ") > 0 {
			t.Errorf("announced after the step-down: %q", ev[max(i, 0):])
		}
		want(t, "unbinds", 100, count(ev, "unbind "))
		want(t, "bound", 0, len(h.fake.Bound()))
		if n := h.logs.Count("dropping VIPs"); n != 1 {
			t.Errorf("drop logged %d times, want once", n)
		}
		h.stop()
	})
}

// slowBinder takes d for every Bind, as a busy kernel does.
type slowBinder struct {
	netops.Binder
	d time.Duration
}

func (s slowBinder) Bind(ctx context.Context, link string, a netops.Addr, validFor time.Duration) error {
	time.Sleep(s.d)
	return s.Binder.Bind(ctx, link, a, validFor)
}

// TestLongPassAnnouncesAsItBinds: in a pass that takes 200 ms to bind 200
// VIPs, each VIP is announced right after its bind, and once more after the
// pass (the slots that went by meanwhile are skipped); the holds share one
// schedule, so the reconciler wakes once for that, not once a VIP.
func TestLongPassAnnouncesAsItBinds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		vips := manyVIPs(200)
		h := newHarness(t, held(3, vips...), func(c *netops.Config) {
			c.Binder = slowBinder{Binder: c.Binder, d: time.Millisecond}
		})
		h.start()
		sleep(time.Second)
		tl := h.fake.Timeline()
		t0 := tl[0].At
		first := map[string]time.Duration{}
		for _, e := range tl {
			if strings.HasPrefix(e.Text, "announce ") {
				if _, ok := first[e.Text]; !ok {
					first[e.Text] = e.At.Sub(t0)
				}
			}
		}
		if d := first["announce 2001:db8::1:1 eth0"]; d != 0 {
			t.Errorf("first VIP first announced %s after its bind, want at once", d)
		}
		want(t, "announcements in the first second", 2*len(vips), count(h.fake.Events(), "announce "))
		// The binding pass, one for the burst after it, and the ticks at
		// 250, 500, 750 and 1000 ms.
		if n := h.fake.Reads().Calls; n > 6 {
			t.Errorf("%d passes in the first second, want at most 6", n)
		}
		h.stop()
	})
}
