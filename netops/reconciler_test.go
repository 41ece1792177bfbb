package netops_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

var (
	own    = netip.MustParsePrefix("192.0.2.11/24")
	own6   = netip.MustParsePrefix("2001:db8::11/64")
	vip100 = fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24")}
	vip6   = fsm.VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64"), Interface: "eth0"}
)

// burst is DefaultSchedule's announcements from the start of a hold.
var burst = []time.Duration{0, 50 * time.Millisecond, 100 * time.Millisecond,
	2000 * time.Millisecond, 2050 * time.Millisecond, 2100 * time.Millisecond}

const (
	bind100     = "bind 192.0.2.100/24 eth0 label=eth0:vip lft=1s"
	renew100    = "renew 192.0.2.100/24 eth0 label=eth0:vip lft=1s"
	unbind100   = "unbind 192.0.2.100/24 eth0"
	announce100 = "announce 192.0.2.100 eth0"
)

// harness runs one reconciler for node n1 on a fake kernel with eth0 carrying
// the node's own addresses. It must be used inside a synctest bubble.
type harness struct {
	t      *testing.T
	fake   *netopstest.Fake
	rec    *netops.Reconciler
	logs   *netopstest.Logs
	cancel context.CancelFunc
	done   chan error

	mu   sync.Mutex
	view netops.View
}

// held is the view of n1 holding vips in term.
func held(term uint64, vips ...fsm.VIP) netops.View {
	return netops.View{State: fsm.State{VIPs: vips, Owner: fsm.Owner{Node: "n1", Term: term}}, Leader: true, Term: term}
}

// following is the view of n1 as a follower of n2 in term 3.
func following(vips ...fsm.VIP) netops.View {
	return netops.View{State: fsm.State{VIPs: vips, Owner: fsm.Owner{Node: "n2", Term: 3}}, Term: 3}
}

func newHarness(t *testing.T, v netops.View, edit func(*netops.Config)) *harness {
	t.Helper()
	h := &harness{t: t, fake: netopstest.NewFake(), logs: &netopstest.Logs{}, done: make(chan error, 1), view: v}
	h.fake.AddLink("eth0", own, own6)
	cfg := netops.Config{
		Node: "n1", Binder: h.fake, Announcer: h.fake, View: h.get, Lease: time.Second,
		Logger: h.logs.Logger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	rec, err := netops.NewReconciler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.rec = rec
	return h
}

// start runs the reconciler and waits for its first pass.
func (h *harness) start() *harness {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.rec.Run(ctx) }()
	// A failed assertion must still end Run, or the bubble never drains.
	h.t.Cleanup(func() {
		if h.cancel != nil {
			h.cancel()
			<-h.done
		}
	})
	synctest.Wait()
	return h
}

func (h *harness) get() netops.View {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.view
}

// set changes the view and pokes, as the cluster's observer does, then waits
// for the pass, without letting virtual time advance.
func (h *harness) set(v netops.View) {
	h.mu.Lock()
	h.view = v
	h.mu.Unlock()
	h.rec.Poke()
	synctest.Wait()
}

// stop cancels Run and checks that it returned nil.
func (h *harness) stop() {
	h.t.Helper()
	h.cancel()
	h.cancel = nil
	if err := <-h.done; err != nil {
		h.t.Fatalf("Run = %v, want nil", err)
	}
}

// sleep lets d of virtual time pass.
func sleep(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

// since returns the offsets from t0 of the events with the given text prefix.
func (h *harness) since(t0 time.Time, prefix string) []time.Duration {
	var out []time.Duration
	for _, e := range h.fake.Timeline() {
		if strings.HasPrefix(e.Text, prefix) && !e.At.Before(t0) {
			out = append(out, e.At.Sub(t0))
		}
	}
	return out
}

func want(t *testing.T, what string, want, got any) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Fatalf("%s (-want +got):\n%s", what, diff)
	}
}

func TestFollowerBindsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, following(vip100, vip6), nil).start()
		sleep(5 * time.Second)
		h.stop()
		want(t, "events", []string{}, h.fake.Events())
		want(t, "held", []netip.Prefix{}, h.rec.Held())
	})
}

func TestHolderBindsWithLabelAndLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100, vip6), nil).start()
		// Each VIP is announced as soon as it is bound.
		want(t, "events", []string{
			bind100,
			announce100,
			"bind 2001:db8::100/64 eth0 lft=1s",
			"announce 2001:db8::100 eth0",
		}, h.fake.Events())
		want(t, "held", []netip.Prefix{vip100.Prefix, vip6.Prefix}, h.rec.Held())
		want(t, "bound", []netip.Prefix{vip100.Prefix, vip6.Prefix}, h.fake.Bound())
		h.stop()
	})
}

func TestLeadershipLossUnbindsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100), nil).start()
		h.fake.Reset()
		lost := held(3, vip100)
		lost.Leader = false
		t0 := time.Now()
		h.set(lost)
		// Only the poke: no tick and no virtual time has passed.
		if !time.Now().Equal(t0) {
			t.Fatalf("virtual time moved by %s", time.Since(t0))
		}
		want(t, "events", []string{unbind100, "release eth0"}, h.fake.Events())
		want(t, "bound", []netip.Prefix(nil), h.fake.Bound())
		want(t, "held", []netip.Prefix{}, h.rec.Held())
		// Announcing stops with the hold: the rest of the schedule is dropped.
		sleep(5 * time.Second)
		want(t, "announcements after the loss", []time.Duration(nil), h.since(t0, "announce"))
		h.stop()
	})
}

func TestAnnouncementSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, held(3, vip100), nil).start()
		sleep(10 * time.Second)
		want(t, "announcement times", burst, h.since(t0, announce100))
		if n := h.logs.Count("announcing VIP"); n < 2 {
			t.Errorf("logged %d announcing lines, want one per burst at least", n)
		}
		if got := h.rec.Stats(); got != (netops.Stats{ARP: uint64(len(burst))}) {
			t.Errorf("stats = %+v, want %d ARP announcements counted", got, len(burst))
		}
		h.stop()
	})
}

func TestAnnouncementRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, held(3, vip100), func(c *netops.Config) {
			c.Schedule = netops.Schedule{Burst: 1, Repeat: time.Second, Refresh: 3 * time.Second}
		}).start()
		sleep(8 * time.Second)
		s := time.Second
		want(t, "announcement times", []time.Duration{0, 1 * s, 4 * s, 7 * s}, h.since(t0, announce100))
		h.stop()
	})
}

func TestNewTermAnnouncesAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100), nil).start()
		sleep(5 * time.Second)
		t1 := time.Now()
		h.set(held(4, vip100))
		sleep(5 * time.Second)
		want(t, "announcement times in the new term", burst, h.since(t1, announce100))
		want(t, "unbinds", []time.Duration(nil), h.since(t1, "unbind"))
		h.stop()
	})
}

func TestLifetimeRenewedBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, held(3, vip100), nil).start()
		sleep(10 * time.Second)
		binds := slices.Concat(h.since(t0, bind100), h.since(t0, renew100))
		slices.Sort(binds)
		if len(binds) < 10 {
			t.Fatalf("%d binds and renewals in 10 s with a 1 s lease, want renewals", len(binds))
		}
		want(t, "first binds", 1, len(h.since(t0, bind100)))
		for i := 1; i < len(binds); i++ {
			if gap := binds[i] - binds[i-1]; gap >= time.Second {
				t.Errorf("renewal %d came %s after the previous one, not before the 1 s lease ran out", i, gap)
			}
		}
		want(t, "expiries", []time.Duration(nil), h.since(t0, "expire"))
		want(t, "bound", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		if n := h.logs.Count("renewed VIP lifetime"); n == 0 {
			t.Error("renewals not logged at debug level")
		}
		h.stop()
	})
}

func TestDeletedAddressIsBoundAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100), nil).start()
		// Between two ticks (every min(Lease/4, 1s) = 250ms), as an admin would.
		sleep(3*time.Second + 100*time.Millisecond)
		t1 := time.Now()
		if !h.fake.Delete("eth0", vip100.Prefix) {
			t.Fatal("the VIP was not bound")
		}
		sleep(time.Second)
		// Repaired on the next tick, and announced again as a new hold.
		binds := h.since(t1, bind100)
		want(t, "rebind", 150*time.Millisecond, binds[0])
		want(t, "announcements", []time.Duration{150 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond},
			h.since(t1, announce100))
		want(t, "bound", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		h.stop()
	})
}

func TestBindErrorRetriedAndLoggedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, held(3, vip100), nil)
		h.fake.Fail(netopstest.Bind, errors.New("operation not permitted"))
		h.start()
		sleep(2 * time.Second)
		if n := len(h.since(t0, bind100+" failed")); n < 8 {
			t.Errorf("%d bind attempts in 2 s, want one per tick", n)
		}
		want(t, "errors logged", 1, h.logs.Count("cannot bind VIP"))
		want(t, "announcements while unbound", []time.Duration(nil), h.since(t0, "announce"))

		h.fake.Fail(netopstest.Bind, nil)
		t1 := time.Now()
		sleep(250 * time.Millisecond)
		want(t, "bound after recovery", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		want(t, "announced after recovery", []time.Duration{250 * time.Millisecond}, h.since(t1, announce100))
		want(t, "errors logged", 1, h.logs.Count("cannot bind VIP"))
		want(t, "success logged", 1, h.logs.Count("bound VIP"))
		h.stop()
	})
}

func TestCancelUnbindsEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100, vip6), nil).start()
		h.fake.Reset()
		h.stop()
		want(t, "events", []string{unbind100, "unbind 2001:db8::100/64 eth0", "release eth0"}, h.fake.Events())
		want(t, "bound", []netip.Prefix(nil), h.fake.Bound())
		want(t, "held", []netip.Prefix{}, h.rec.Held())
		own, err := netops.List(context.Background(), h.fake, "eth0")
		want(t, "own addresses", []netip.Prefix{netip.MustParsePrefix("192.0.2.11/24"), own6}, netops.Prefixes(own))
		want(t, "list error", nil, err)
	})
}

func TestOnlyManagedAddressesAreUnbound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		extra := fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.200/32")}
		admin := netip.MustParsePrefix("192.0.2.50/24")
		// A VIP of the state, a -vip flag and an address of the admin's are in
		// the kernel of a follower, next to the node's own addresses.
		h := newHarness(t, following(vip100), func(c *netops.Config) { c.Extra = []fsm.VIP{extra} })
		for _, p := range []netip.Prefix{netip.MustParsePrefix("192.0.2.100/32"), extra.Prefix} {
			h.fake.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: p}, Ours: true}, time.Hour)
		}
		h.fake.AddLink("eth0", admin)
		h.start()
		sleep(2 * time.Second)
		h.stop()
		want(t, "events", []string{"unbind 192.0.2.100/32 eth0", "unbind 192.0.2.200/32 eth0"}, h.fake.Events())
		left, _ := netops.List(context.Background(), h.fake, "eth0")
		want(t, "left in the kernel", []netip.Prefix{own, own6, admin}, netops.Prefixes(left))
	})
}

// A VIP equal to the node's own address (a mistake in the VIP set) is neither
// taken over and announced by the leader nor deleted by a follower. Pinned to
// the interface: otherwise no subnet of the node's contains it and it has no
// link at all here.
func TestVIPEqualToOwnAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mistake := fsm.VIP{Prefix: own, Interface: "eth0"}
		h := newHarness(t, held(3, mistake, vip100), nil).start()
		sleep(3 * time.Second)
		want(t, "bound", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		for _, e := range h.fake.Events() {
			if strings.Contains(e, "192.0.2.11") {
				t.Errorf("the leader touched its own address: %q", e)
			}
		}
		want(t, "conflicts", []netops.Conflict{{VIP: mistake, At: netops.Binding{Link: "eth0", Prefix: own}}}, h.rec.Conflicts())
		want(t, "conflicts logged", 1, h.logs.Count("VIP conflicts with an address raftvip did not add: not bound, not announced"))

		// Deposed: the VIP set still names the address, which stays.
		h.set(following(mistake, vip100))
		sleep(3 * time.Second)
		h.stop()
		left, _ := netops.List(context.Background(), h.fake, "eth0")
		want(t, "left in the kernel", []netip.Prefix{own, own6}, netops.Prefixes(left))
		want(t, "conflicts after stepping down", []netops.Conflict(nil), h.rec.Conflicts())
		want(t, "foreign address logged", 1, h.logs.Count("address was not added by raftvip: left in place"))
		for _, e := range h.fake.Events() {
			if strings.Contains(e, "192.0.2.11") {
				t.Errorf("the follower touched its own address: %q", e)
			}
		}
	})
}

// The conflict ends when the operator removes the address in the way: the VIP
// is then bound and announced like any new hold.
func TestConflictResolved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(3, vip100), nil)
		h.fake.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: vip100.Prefix}}, 0)
		h.start()
		sleep(2 * time.Second)
		want(t, "bound during the conflict", []netip.Prefix(nil), h.fake.Bound())
		want(t, "conflicts", 1, len(h.rec.Conflicts()))
		h.fake.Delete("eth0", vip100.Prefix)
		sleep(time.Second)
		want(t, "bound after the conflict", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		want(t, "conflicts after", 0, len(h.rec.Conflicts()))
		want(t, "resolution logged", 1, h.logs.Count("VIP conflict resolved"))
		h.stop()
	})
}

func TestLinkLookupFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lost := fsm.VIP{Prefix: netip.MustParsePrefix("198.51.100.7/24")}
		h := newHarness(t, held(3, lost, vip100), nil).start()
		sleep(2 * time.Second)
		// The VIP no link can carry is reported once; the others are served.
		want(t, "errors logged", 1, h.logs.Count("cannot find a link for VIP"))
		want(t, "bound", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		h.stop()
	})
}

func TestNewReconcilerValidates(t *testing.T) {
	f := netopstest.NewFake()
	good := netops.Config{Node: "n1", Binder: f, Announcer: f, View: func() netops.View { return netops.View{} }, Lease: time.Second}
	for name, edit := range map[string]func(*netops.Config){
		"no node":           func(c *netops.Config) { c.Node = "" },
		"no binder":         func(c *netops.Config) { c.Binder = nil },
		"no view":           func(c *netops.Config) { c.View = nil },
		"short lease":       func(c *netops.Config) { c.Lease = 500 * time.Millisecond },
		"fractional lease":  func(c *netops.Config) { c.Lease = 1500 * time.Millisecond },
		"bad schedule":      func(c *netops.Config) { c.Schedule = netops.Schedule{Burst: -1} },
		"invalid extra VIP": func(c *netops.Config) { c.Extra = []fsm.VIP{{}} },
	} {
		cfg := good
		edit(&cfg)
		if _, err := netops.NewReconciler(cfg); !errors.Is(err, netops.ErrBadConfig) {
			t.Errorf("%s: NewReconciler = %v, want ErrBadConfig", name, err)
		}
	}
	if _, err := netops.NewReconciler(good); err != nil {
		t.Fatalf("NewReconciler(valid) = %v", err)
	}
}

// TestNoAnnouncementOnStaleView: the view can stop saying "holder" without a
// poke (the cluster's quorum lease simply runs out, as after SIGSTOP). The
// next scheduled announcement must not go out; the VIP is dropped instead.
func TestNoAnnouncementOnStaleView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t, held(4, vip100), nil).start()
		t0 := time.Now()
		h.mu.Lock()
		h.view = following(vip100) // no Poke: nothing told the reconciler
		h.mu.Unlock()
		sleep(3 * time.Second)
		want(t, "announcements", []time.Duration{0}, h.since(t0, announce100))
		want(t, "bound", []netip.Prefix(nil), h.fake.Bound())
		h.stop()
	})
}

// TestOnHeldReportsChangesOnly: notify hooks hear of taking and releasing the
// VIPs once each, not on every pass.
func TestOnHeldReportsChangesOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var calls []string
		h := newHarness(t, held(3, vip100), func(c *netops.Config) {
			c.OnHeld = func(ps []netip.Prefix, term uint64) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, fmt.Sprintf("%v term %d", ps, term))
			}
		}).start()
		sleep(5 * time.Second) // many passes and announcements
		lost := held(3, vip100)
		lost.Leader = false
		h.set(lost)
		sleep(time.Second)
		h.stop()
		mu.Lock()
		defer mu.Unlock()
		want(t, "OnHeld calls", []string{"[192.0.2.100/24] term 3", "[] term 3"}, calls)
	})
}

// TestSetSchedule: a reloaded schedule governs announcements from the next
// pass on, without a new burst; a bad one is refused and changes nothing.
func TestSetSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		h := newHarness(t, held(3, vip100), func(c *netops.Config) {
			c.Schedule = netops.Schedule{Burst: 1, Repeat: time.Second, Refresh: 10 * time.Second}
		}).start()
		sleep(2 * time.Second)
		if err := h.rec.SetSchedule(netops.Schedule{Burst: 1, Repeat: time.Second, Refresh: -time.Second}); err == nil {
			t.Error("SetSchedule accepted a negative refresh")
		}
		if err := h.rec.SetSchedule(netops.Schedule{Burst: 1, Repeat: time.Second, Refresh: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		sleep(6 * time.Second)
		s := time.Second
		want(t, "announcement times", []time.Duration{0, 1 * s, 4 * s, 7 * s}, h.since(t0, announce100))
		h.stop()
	})
}
