package netops_test

import (
	"errors"
	"net"
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

var (
	otherMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x09}
	vip101   = fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.101/24")}
)

// guarded is a harness whose reconciler probes and watches through hosts.
func guarded(t *testing.T, v netops.View, hosts *netopstest.Hosts) *harness {
	return newHarness(t, v, func(c *netops.Config) { c.Prober, c.Watcher = hosts, hosts })
}

// takenOver is held(term, vips...) after n2 owned the VIPs.
func takenOver(term uint64, vips ...fsm.VIP) netops.View {
	v := held(term, vips...)
	v.State.Owner.Previous = "n2"
	return v
}

func count(events []string, prefix string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

// A VIP of the cluster's first claim that another host answers for is neither
// bound nor announced, is shown as a conflict, and is bound once the other
// host lets go.
func TestVIPInUseOnLANIsNotBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		hosts.Claim(vip100.Prefix.Addr(), otherMAC)
		h := guarded(t, held(2, vip100), hosts).start()
		sleep(10 * time.Second)
		want(t, "bound", []netip.Prefix(nil), h.fake.Bound())
		want(t, "announced", 0, count(h.fake.Events(), "announce"))
		want(t, "conflicts", []netops.Conflict{{VIP: vip100, At: netops.Binding{Link: "eth0"}, MAC: otherMAC.String()}}, h.rec.Conflicts())
		want(t, "error logged", 1, h.logs.Count("VIP answered by another host on the LAN: not bound, not announced; probing again with backoff"))
		want(t, "episodes", uint64(1), h.rec.Stats().InUse)
		if n := len(hosts.Probes()); n < 3 || n > 6 {
			t.Errorf("probes in 10 s = %d, want a few (backoff)", n)
		}

		hosts.Leave(vip100.Prefix.Addr())
		sleep(20 * time.Second)
		want(t, "bound after the other host let go", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		want(t, "conflicts after", 0, len(h.rec.Conflicts()))
		if count(h.fake.Events(), announce100) == 0 {
			t.Error("VIP bound but not announced")
		}
		h.stop()
	})
}

// At takeover the previous holder's kernel may still answer (a killed leader
// keeps its VIP up to the lease): inherited VIPs are bound at once, unprobed.
func TestTakeoverIsNotProbed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		hosts.Claim(vip100.Prefix.Addr(), otherMAC)
		h := guarded(t, takenOver(4, vip100), hosts).start()
		want(t, "bound at once", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		want(t, "probes", []string(nil), hosts.Probes())
		h.stop()
	})
}

// A VIP added while the node holds has never been held: it is probed, and
// not bound while another host answers; the others are not disturbed.
func TestAddedVIPIsProbed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		hosts.Claim(vip101.Prefix.Addr(), otherMAC)
		h := guarded(t, takenOver(4, vip100), hosts).start()
		h.set(takenOver(4, vip100, vip101))
		sleep(900 * time.Millisecond)
		want(t, "probes", []string{"probe 192.0.2.101 eth0"}, hosts.Probes())
		want(t, "bound", []netip.Prefix{vip100.Prefix}, h.fake.Bound())

		// Re-elected in a later term: still in use, still not bound.
		h.set(takenOver(5, vip100, vip101))
		sleep(5 * time.Second)
		want(t, "bound in the next term", []netip.Prefix{vip100.Prefix}, h.fake.Bound())

		// Another node owned the VIPs since: it may have bound them, so the
		// next takeover binds them unprobed.
		h.set(following(vip100, vip101))
		h.set(takenOver(7, vip100, vip101))
		want(t, "bound after another owner", []netip.Prefix{vip100.Prefix, vip101.Prefix}, h.fake.Bound())
		h.stop()
	})
}

// A VIP dropped because the quorum lease lapsed is bound again at once when
// the lease is proved again in the same term: a probe would only lengthen the
// outage. In a later term the cluster's first claim is probed as before.
func TestLapseInTheSameTermIsNotProbedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		h := guarded(t, held(2, vip100), hosts).start()
		sleep(time.Second)
		want(t, "bound after the first probe", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		want(t, "probes", 1, len(hosts.Probes()))

		h.set(lapsed(2))
		want(t, "bound while lapsed", []netip.Prefix(nil), h.fake.Bound())
		h.set(held(2, vip100))
		want(t, "bound again at once", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		want(t, "probes after the lapse", 1, len(hosts.Probes()))

		h.set(lapsed(2))
		want(t, "bound while lapsed again", []netip.Prefix(nil), h.fake.Bound())
		h.set(held(3, vip100))
		sleep(time.Second)
		want(t, "probes in the new term", 2, len(hosts.Probes()))
		want(t, "bound in the new term", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		h.stop()
	})
}

// A leader thawed after a freeze may hear the new holder's announcement
// before its next pass: it must not answer it on the strength of the hold it
// had before, the view read now says it no longer holds.
func TestSightingAfterLosingTheLeadIsNotAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		h := guarded(t, takenOver(4, vip100), hosts).start()
		sleep(3 * time.Second)
		h.fake.Reset()
		// The view changes without a poke, as a thaw finds it.
		h.mu.Lock()
		h.view = following(vip100)
		h.mu.Unlock()
		if !hosts.Announce("eth0", vip100.Prefix.Addr(), otherMAC) {
			t.Fatal("nobody heard the announcement")
		}
		synctest.Wait()
		want(t, "announcements after losing the lead", 0, count(h.fake.Events(), announce100))
		h.stop()
	})
}

// A probe that fails is retried, and the VIP is not bound meanwhile.
func TestProbeFailureDoesNotBind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		hosts.Fail(errors.New("no socket"))
		h := guarded(t, held(2, vip100), hosts).start()
		sleep(5 * time.Second)
		want(t, "bound", []netip.Prefix(nil), h.fake.Bound())
		want(t, "error logged", 1, h.logs.Count("cannot probe the LAN for VIP: not bound"))
		hosts.Fail(nil)
		sleep(20 * time.Second)
		want(t, "bound", []netip.Prefix{vip100.Prefix}, h.fake.Bound())
		h.stop()
	})
}

// Another host announcing a held VIP is logged once, shown in Conflicts and
// answered at once by an announcement; the watcher runs only while a VIP is held.
func TestRogueAnnouncementIsAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hosts := netopstest.NewHosts()
		h := guarded(t, following(vip100), hosts).start()
		want(t, "watching on a follower", []string(nil), hosts.Watching())
		h.set(takenOver(4, vip100))
		sleep(3 * time.Second)
		want(t, "watching", []string{"eth0 v4"}, hosts.Watching())

		h.fake.Reset()
		if !hosts.Announce("eth0", vip100.Prefix.Addr(), otherMAC) {
			t.Fatal("nobody heard the announcement")
		}
		synctest.Wait()
		want(t, "answered", []string{announce100}, h.fake.Events())
		want(t, "error logged", 1, h.logs.Count("another host announces a VIP this node holds: announcing it again"))
		want(t, "conflicts", []netops.Conflict{{VIP: fsm.VIP{Prefix: vip100.Prefix}, At: netops.Binding{Link: "eth0"}, MAC: otherMAC.String(), Held: true}}, h.rec.Conflicts())

		// A host announcing in a loop gets at most one answer a second.
		for range 20 {
			hosts.Announce("eth0", vip100.Prefix.Addr(), otherMAC)
			sleep(100 * time.Millisecond)
		}
		if n := count(h.fake.Events(), announce100); n < 2 || n > 3 {
			t.Errorf("answers to 21 announcements in 2 s = %d, want 2 or 3", n)
		}
		want(t, "error logged", 1, h.logs.Count("another host announces a VIP this node holds: announcing it again"))
		want(t, "episodes", uint64(1), h.rec.Stats().InUse)

		sleep(time.Minute)
		want(t, "conflicts after the other host went quiet", 0, len(h.rec.Conflicts()))

		// Announcements of addresses not held are not answered.
		h.fake.Reset()
		hosts.Announce("eth0", vip101.Prefix.Addr(), otherMAC)
		synctest.Wait()
		want(t, "answers for an address not held", 0, len(h.fake.Events()))

		h.set(following(vip100))
		want(t, "watching after stepping down", []string(nil), hosts.Watching())
		h.stop()
		if slices.Contains(hosts.Watching(), "eth0 v4") {
			t.Error("watcher still running after Run returned")
		}
	})
}
