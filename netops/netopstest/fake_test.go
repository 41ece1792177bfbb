package netopstest_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

var (
	own = netip.MustParsePrefix("192.0.2.11/24")
	vip = netip.MustParsePrefix("192.0.2.100/24")
)

// ours is p as Addrs finds an address raftvip added.
func ours(p string) netops.Found {
	return netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix(p)}, Ours: true, Deprecated: true}
}

func bind(t *testing.T, f *netopstest.Fake, lft time.Duration) {
	t.Helper()
	if err := f.Bind(context.Background(), "eth0", netops.Addr{Prefix: vip, Label: "eth0:vip"}, lft); err != nil {
		t.Fatal(err)
	}
}

func TestFakeRecordsAndExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		f := netopstest.NewFake()
		f.AddLink("eth0", own)
		ls, err := f.Addrs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if link, err := ls.LinkFor(vip.Addr()); link != "eth0" || err != nil {
			t.Fatalf("LinkFor = %q, %v; want eth0", link, err)
		}
		if _, err := ls.LinkFor(netip.MustParseAddr("198.51.100.1")); !errors.Is(err, netops.ErrNoLink) {
			t.Fatalf("LinkFor outside every subnet = %v, want ErrNoLink", err)
		}
		bind(t, f, 2*time.Second)
		if err := f.Renew(ctx, "eth0", netops.Addr{Prefix: vip, Label: "eth0:vip"}, 2*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := f.Unbind(ctx, "eth0", ours("192.0.2.99/24")); err != nil {
			t.Fatalf("Unbind of an absent address = %v, want nil", err)
		}
		f.Fail(netopstest.Announce, errors.New("boom"))
		if err := f.Announce(ctx, "eth0", vip.Addr()); err == nil {
			t.Fatal("injected Announce error not returned")
		}
		if err := f.Bind(ctx, "eth9", netops.Addr{Prefix: vip}, time.Second); !errors.Is(err, netops.ErrNoLink) {
			t.Fatalf("Bind on a missing link = %v, want ErrNoLink", err)
		}
		if got := f.Bound(); !slices.Equal(got, []netip.Prefix{vip}) {
			t.Fatalf("Bound = %v, want [%s]", got, vip)
		}
		time.Sleep(2 * time.Second)
		if got := f.Bound(); len(got) != 0 {
			t.Fatalf("Bound after the lifetime = %v, want none", got)
		}
		if r := f.Reads(); r != (netopstest.Reads{Calls: 1, Addrs: 1}) {
			t.Errorf("Reads = %+v, want one call that read the own address", r)
		}
		want := []string{
			"bind 192.0.2.100/24 eth0 label=eth0:vip lft=2s",
			"renew 192.0.2.100/24 eth0 label=eth0:vip lft=2s",
			"unbind 192.0.2.99/24 eth0",
			"announce 192.0.2.100 eth0 failed",
			"bind 192.0.2.100/24 eth9 lft=1s failed",
			"expire 192.0.2.100/24 eth0",
		}
		if got := f.Events(); !slices.Equal(got, want) {
			t.Fatalf("Events =\n%q\nwant\n%q", got, want)
		}
	})
}

func TestLANCatchesTwoHolders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := netopstest.NewLAN(nil)
		n1, n2 := lan.Fake("n1"), lan.Fake("n2")
		n1.AddLink("eth0", own)
		n2.AddLink("eth0", netip.MustParsePrefix("192.0.2.12/24"))
		bind(t, n1, time.Second)
		bind(t, n1, time.Second) // a renewal is not a second holder
		bind(t, n2, time.Second)
		if v := lan.Violations(); len(v) != 1 {
			t.Fatalf("violations = %q, want one", v)
		}
		if h := lan.Holders(vip.Addr()); !slices.Equal(h, []string{"n1", "n2"}) {
			t.Fatalf("holders = %v", h)
		}
		// n1 is frozen: its kernel drops the VIP when the lifetime runs out, and
		// then another node may take it.
		n3 := lan.Fake("n3")
		n3.AddLink("eth0", netip.MustParsePrefix("192.0.2.13/24"))
		time.Sleep(time.Second)
		bind(t, n3, time.Second)
		if v := lan.Violations(); len(v) != 1 {
			t.Fatalf("violations after the lease = %q, want still one", v)
		}
	})
}

// TestHandoverHasOneHolder runs two reconcilers on one LAN through a graceful
// handover (docs/design.md, "Drop, then transfer") and checks that the ledger
// never saw two holders, failing the test the moment it does.
func TestHandoverHasOneHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lan := netopstest.NewLAN(t)
		state := fsm.State{VIPs: []fsm.VIP{{Prefix: vip}}, Owner: fsm.Owner{Node: "n1", Term: 3}}
		views := map[string]*netops.View{
			"n1": {State: state, Leader: true, Term: 3},
			"n2": {State: state, Term: 3},
		}
		recs := map[string]*netops.Reconciler{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 2)
		for i, node := range []string{"n1", "n2"} {
			f := lan.Fake(node)
			f.AddLink("eth0", netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(11 + i)}), 24))
			r, err := netops.NewReconciler(netops.Config{Node: node, Binder: f, Announcer: f, Lease: time.Second,
				View: func() netops.View { return *views[node] }, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			recs[node] = r
			go func() { done <- r.Run(ctx) }()
		}
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if h := lan.Holders(vip.Addr()); !slices.Equal(h, []string{"n1"}) {
			t.Fatalf("holders = %v, want n1", h)
		}
		// n1 steps down and drops; then n2 wins term 4 and its claim commits.
		views["n1"].Leader = false
		recs["n1"].Poke()
		synctest.Wait()
		state.Owner = fsm.Owner{Node: "n2", Term: 4}
		*views["n1"] = netops.View{State: state, Term: 4}
		*views["n2"] = netops.View{State: state, Leader: true, Term: 4}
		recs["n1"].Poke()
		recs["n2"].Poke()
		time.Sleep(3 * time.Second)
		synctest.Wait()
		if h := lan.Holders(vip.Addr()); !slices.Equal(h, []string{"n2"}) {
			t.Fatalf("holders = %v, want n2", h)
		}
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The fake refuses, as Netlink does, to take over or delete an address that
// raftvip did not add, and reports the mark in Addrs; it refuses to renew one
// too.
func TestFakeRefusesForeignAddresses(t *testing.T) {
	ctx := context.Background()
	f := netopstest.NewFake()
	f.AddLink("eth0", own)
	legacy := netip.MustParsePrefix("192.0.2.70/24")
	f.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: legacy}, Legacy: true}, time.Hour)
	if err := f.Bind(ctx, "eth0", netops.Addr{Prefix: netip.PrefixFrom(own.Addr(), 32)}, time.Second); !errors.Is(err, netops.ErrForeign) {
		t.Errorf("Bind over the node's own address = %v, want ErrForeign", err)
	}
	if err := f.Renew(ctx, "eth0", netops.Addr{Prefix: own}, time.Second); !errors.Is(err, netops.ErrForeign) {
		t.Errorf("Renew of the node's own address = %v, want ErrForeign", err)
	}
	if err := f.Unbind(ctx, "eth0", netops.Found{Addr: netops.Addr{Prefix: own}}); !errors.Is(err, netops.ErrForeign) {
		t.Errorf("Unbind of the node's own address = %v, want ErrForeign", err)
	}
	// Even if the caller thinks it is raftvip's.
	if err := f.Unbind(ctx, "eth0", ours(own.String())); !errors.Is(err, netops.ErrForeign) {
		t.Errorf("Unbind of the node's own address, read as marked = %v, want ErrForeign", err)
	}
	bind(t, f, time.Hour)
	if err := f.Unbind(ctx, "eth0", netops.Found{Addr: netops.Addr{Prefix: legacy}, Legacy: true}); err != nil {
		t.Errorf("Unbind of a legacy leftover = %v, want nil", err)
	}
	found, err := netops.List(ctx, f, "eth0")
	want := []netops.Found{{Addr: netops.Addr{Prefix: own}},
		{Addr: netops.Addr{Prefix: vip, Label: "eth0:vip"}, Ours: true, Deprecated: true}}
	if err != nil || !slices.Equal(found, want) {
		t.Fatalf("List = %+v, %v; want %+v", found, err, want)
	}
}
