package e2e

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// TestMembershipAndVIPs: a fourth node joins and a follower leaves; a second
// IPv4 VIP and an IPv6 VIP are added through the API. The holder binds and
// announces them, and after a leadership transfer the client's neighbour
// entries move to the new holder's MAC without the client sending anything
// (gratuitous ARP; unsolicited NA with Override). Followers never bind them,
// and `vip rm` takes a VIP out of the holder's kernel.
func TestMembershipAndVIPs(t *testing.T) {
	e := newEnv(t)
	h := e.startCluster()

	n4, err := e.lab.AddNode(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.start(n4, "-join", e.c.JoinAddrs(n4))
	e.await("four voters", settle, func() error { return e.voters(h, 4) })
	e.await(fmt.Sprintf("n%d follows n%d", n4, h), settle, func() error { return e.follows(n4, h, vip) })

	leaver := 1 + h%3 // a follower among n1-n3
	if out := e.cli(n4, "leave", lab.NodeName(leaver)); !strings.Contains(out, "left") {
		t.Errorf("raftvip leave %s said %q", lab.NodeName(leaver), out)
	}
	e.await(fmt.Sprintf("n%d gone from the members", leaver), settle, func() error {
		st, err := e.status(h)
		if err != nil {
			return err
		}
		ids := st.Voters()
		if len(st.Members) != 3 || slices.Contains(ids, lab.NodeName(leaver)) {
			return fmt.Errorf("members %v", st.Members)
		}
		return nil
	})
	e.signal(leaver, syscall.SIGTERM)
	if code := e.exited(e.c.Proc(leaver)); code != 0 {
		t.Errorf("n%d exited with %d after leaving and SIGTERM: %s", leaver, code, e.lastLine(leaver))
	}

	const v4, v6 = "192.0.2.101/24", "2001:db8::100/64"
	a4, a6 := addrOf(v4), addrOf(v6)
	w := e.watchHolders(a4, a6)
	e.cli(n4, "vip", "add", v4)
	e.cli(n4, "vip", "add", v6)
	e.await("the holder binds both new VIPs", settle, func() error { return e.holds(h, vip, a4, a6) })
	// The client has no entry for a VIP it never used, and a gratuitous ARP
	// or NA does not create one (arp_accept=0): it asks once, here.
	for _, a := range []netip.Addr{a4, a6} {
		e.await(fmt.Sprintf("the client reaches %s at n%d", a, h), settle, func() error { return e.answeredBy(a, h) })
		if err := e.neighIs(a, h); err != nil {
			t.Error(err)
		}
	}

	// From here the client sends nothing to a4 or a6 until its entries moved.
	moveAt := time.Now()
	e.cli(n4, "transfer")
	n := e.waitHolder(vip, h)
	e.await(fmt.Sprintf("n%d binds every VIP", n), settle, func() error { return e.holds(n, vip, a4, a6) })
	for _, a := range []netip.Addr{a6, a4} {
		e.await(fmt.Sprintf("the client's entry for %s moves to n%d", a, n), settle, func() error { return e.neighIs(a, n) })
		t.Logf("measured: after the transfer to n%d the client's entry for %s moved within %v", n, a, since(moveAt))
	}
	e.await(fmt.Sprintf("the client reaches %s at n%d", a6, n), settle, func() error { return e.answeredBy(a6, n) })

	e.cli(n4, "vip", "rm", a6.String())
	e.await(fmt.Sprintf("%s leaves the holder's kernel", a6), settle, func() error { return e.holdersAre(a6) })
	e.await("the VIP set without it", settle, func() error { return e.hasVIPs(n4, vipPrefix.String(), v4) })
	if out := e.cli(n4, "vip", "ls"); strings.Contains(out, a6.String()) || !strings.Contains(out, v4) {
		t.Errorf("vip ls after vip rm %s:\n%s", a6, out)
	}
	if err := e.holdersAre(a4, n); err != nil {
		t.Error(err)
	}
	if most, err := w.stop(); err != nil {
		t.Error(err)
	} else if most > 1 {
		t.Errorf("%d nodes held one of %s, %s at once; only the holder may", most, a4, a6)
	}
}

// holderWatch samples the holders of some VIPs every 10 ms in the
// background, and remembers the most nodes that held one of them at once,
// and how many samples it took and how many failed.
type holderWatch struct {
	stopOnce func()
	mu       sync.Mutex
	most     int
	samples  int
	failed   int
	firstErr error
}

func (e *env) watchHolders(addrs ...netip.Addr) *holderWatch {
	w := &holderWatch{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, a := range addrs {
				hs, err := e.lab.HoldersOf(a)
				w.mu.Lock()
				w.samples++
				if err != nil {
					w.failed++
					w.firstErr = cmp.Or(w.firstErr, err)
				}
				w.most = max(w.most, len(hs))
				w.mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	w.stopOnce = sync.OnceFunc(func() { close(done); wg.Wait() })
	e.t.Cleanup(w.stopOnce)
	return w
}

// stop ends the sampling and returns the most holders seen at once, or an
// error when no sample was taken or one failed: a failed sample shows no
// holder, so two could have gone unseen.
func (w *holderWatch) stop() (int, error) {
	w.stopOnce()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.samples == 0 || w.failed > 0 {
		return w.most, fmt.Errorf("%d of %d holder samples failed (first: %v): two holders could have gone unseen", w.failed, w.samples, w.firstErr)
	}
	return w.most, nil
}
