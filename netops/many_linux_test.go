//go:build linux

package netops_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
	"github.com/raftvip/raftvip/netops/nstest"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// nsProber probes from inside ns: the reconciler runs each probe on a
// goroutine of its own, and only a thread that entered ns sees its links.
type nsProber struct {
	ns *nstest.NS
	p  *netops.LinkProber
}

func (n nsProber) Probe(ctx context.Context, link string, ip netip.Addr) (mac net.HardwareAddr, err error) {
	err = n.ns.Do(func() error {
		mac, err = n.p.Probe(ctx, link, ip)
		return err
	})
	return mac, err
}

// addTo adds p to link in ns as an operator would, without DAD.
func addTo(t *testing.T, ns *nstest.NS, link, p string) {
	t.Helper()
	a, err := netlink.ParseAddr(p)
	if err != nil {
		t.Fatal(err)
	}
	a.Flags = unix.IFA_F_NODAD
	if err := ns.Handle.AddrAdd(&netlink.Dummy{LinkAttrs: *ns.Attrs(t, link)}, a); err != nil {
		t.Fatalf("add %s to %s: %v", p, link, err)
	}
}

// vips1024 returns 1024 VIPs in the subnets of nstest.Link, IPv4 first (as
// many as 192.0.2.100-254 give), then IPv6.
func vips1024() []fsm.VIP {
	var vs []fsm.VIP
	for i := 100; i <= 254; i++ {
		vs = append(vs, fsm.VIP{Prefix: netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", i))})
	}
	for i := 1; len(vs) < 1024; i++ {
		vs = append(vs, fsm.VIP{Prefix: netip.MustParsePrefix(fmt.Sprintf("2001:db8::1:%x/64", i))})
	}
	return vs
}

// TestKernelManyVIPs runs a Reconciler on the real kernel with 1024 VIPs on
// the cluster's first claim: it probes them (the other host, the veth's peer
// end, answers for two of them), binds the others with the mark, keeps them
// through several renewals and removes them all at shutdown.
func TestKernelManyVIPs(t *testing.T) {
	ns := nstest.New(t)
	addTo(t, ns, nstest.Link, "2001:db8::11/64")
	// The other host's addresses are host routes, so that they configure no
	// subnet of the peer's for the VIPs' link lookup.
	addTo(t, ns, nstest.Peer, "192.0.2.150/32")
	addTo(t, ns, nstest.Peer, "2001:db8::1:50/128")
	vips := vips1024()
	taken := []netip.Prefix{netip.MustParsePrefix("192.0.2.150/24"), netip.MustParsePrefix("2001:db8::1:50/64")}

	b, err := netops.OpenNetlink(ns.NS, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a := netops.NewAnnouncer(nil)
	defer a.Close()
	logs := &netopstest.Logs{}
	st := fsm.State{VIPs: vips, Owner: fsm.Owner{Node: "n1", Term: 2}}
	// A lease of 5 s renews every 1.7 s or so: VIPs that vanish before
	// their renewal are a missing renewal, not a slow machine.
	r, err := netops.NewReconciler(netops.Config{Node: "n1", Binder: b, Announcer: a, Lease: 5 * time.Second,
		Prober: nsProber{ns: ns, p: netops.NewProber(0)}, Logger: logs.Logger(),
		View: func() netops.View { return netops.View{State: st, Leader: true, Term: 2} }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var once sync.Once
	stop := func() error {
		var err error
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() }) // a failed assertion must still end Run
	// Run on a thread inside the namespace, where the announcer opens sockets.
	start := time.Now()
	go func() { done <- ns.Do(func() error { return r.Run(ctx) }) }()

	var wantHeld []netip.Prefix // in address order, as Held returns them
	for _, v := range vips {
		if !slices.Contains(taken, v.Prefix) {
			wantHeld = append(wantHeld, v.Prefix)
		}
	}
	if err := testutil.Poll(time.Minute, func() bool { return len(r.Held()) == len(wantHeld) }); err != nil {
		t.Fatalf("%d of %d VIPs held: %v", len(r.Held()), len(wantHeld), err)
	}
	t.Logf("%d VIPs probed and held after %s", len(wantHeld), time.Since(start).Round(time.Millisecond))
	if got := r.Held(); !slices.Equal(got, wantHeld) {
		t.Fatalf("held %d VIPs, not the %d free ones", len(got), len(wantHeld))
	}
	if n := len(r.Conflicts()); n != 2 {
		t.Errorf("%d conflicts, want the other host's two: %v", n, r.Conflicts())
	}
	// Three renewals' worth.
	renewals := logs.Count("renewed VIP lifetime")
	if err := testutil.Poll(time.Minute, func() bool { return logs.Count("renewed VIP lifetime") >= renewals+3*len(wantHeld) }); err != nil {
		t.Fatalf("renewals: %v", err)
	}
	if n := logs.Count("VIP vanished from the kernel"); n > 0 {
		t.Errorf("%d VIPs vanished before their renewal", n)
	}
	fs, err := netops.List(ctx, b, nstest.Link)
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, f := range fs {
		if f.Ours && f.Deprecated {
			marked++
		}
	}
	if marked != len(wantHeld) {
		t.Errorf("%d marked, deprecated addresses on %s, want %d", marked, nstest.Link, len(wantHeld))
	}

	if err := stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	fs, err = netops.List(context.Background(), b, nstest.Link)
	if err != nil {
		t.Fatal(err)
	}
	if left := slices.DeleteFunc(fs, func(f netops.Found) bool { return !f.Ours }); len(left) > 0 {
		t.Fatalf("%d VIPs still bound after shutdown", len(left))
	}
}
