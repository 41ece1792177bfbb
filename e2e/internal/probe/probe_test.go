package probe_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// settle bounds every wait; the waits poll, so a healthy lab passes at once.
const settle = 10 * time.Second

// probeOn builds a lab with responders, configures vip on node i, and starts a
// probe that has heard node i answer. Stop is left to the test.
func probeOn(t *testing.T, vip netip.Prefix, i int, extra ...string) (*lab.Lab, *probe.Probe) {
	t.Helper()
	l := lab.ForTest(t, lab.Options{})
	if err := l.StartResponders(t.Context()); err != nil {
		t.Fatal(err)
	}
	ipAddr(t, l, i, "add", vip.String(), extra...)
	p := probe.Start(t.Context(), l, vip.Addr(), probe.Options{})
	t.Cleanup(func() { p.Stop() })
	waitAnswer(t, p, lab.NodeName(i))
	return l, p
}

// ipAddr runs `ip addr <verb> <prefix> dev eth0` inside node i only.
func ipAddr(t *testing.T, l *lab.Lab, i int, verb, prefix string, extra ...string) {
	t.Helper()
	args := append([]string{"addr", verb, prefix, "dev", lab.Link}, extra...)
	if _, err := l.Exec(t.Context(), l.NodeNS(i), "ip", args...); err != nil {
		t.Fatal(err)
	}
}

func waitAnswer(t *testing.T, p *probe.Probe, want string) {
	t.Helper()
	if err := probe.WaitFor(t.Context(), func() bool { return p.LastAnswer() == want }, settle); err != nil {
		t.Fatalf("probe never heard %s (last %q): %v", want, p.LastAnswer(), err)
	}
}

// TestProbeMove moves a fake VIP from n1 to n2 by hand (delete, add, then a
// gratuitous ARP from n2) and checks what the probe makes of it.
func TestProbeMove(t *testing.T) {
	prefix := netip.MustParsePrefix("192.0.2.100/24")
	vip := prefix.Addr()
	l, p := probeOn(t, prefix, 1)

	ipAddr(t, l, 1, "del", prefix.String())
	ipAddr(t, l, 2, "add", prefix.String())
	if err := l.GratuitousARP(2, vip); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, p, "n2")
	err := probe.WaitFor(t.Context(), func() bool {
		mac, _, err := l.ClientNeigh(vip)
		return err == nil && mac.String() == l.NodeMAC(2).String()
	}, settle)
	if err != nil {
		t.Fatalf("client neighbour entry never moved to n2: %v", err)
	}

	r := p.Stop()
	t.Log(r)
	if r.Err != "" {
		t.Fatalf("probe error: %s", r.Err)
	}
	if diff := cmp.Diff([]string{"n1", "n2"}, r.Answerers); diff != "" {
		t.Errorf("Answerers (-want +got):\n%s", diff)
	}
	if r.Flaps != 1 || r.TakeoverBy != "n2" {
		t.Errorf("Flaps = %d, TakeoverBy = %q; want 1, n2", r.Flaps, r.TakeoverBy)
	}
	if r.HolderSamples == 0 || r.HolderFailed > 0 {
		t.Errorf("%d of %d holder samples failed, want some and none failed", r.HolderFailed, r.HolderSamples)
	}
	if r.DualHolder != 0 {
		t.Errorf("DualHolder = %v, want 0: the VIP was never on two nodes", r.DualHolder)
	}
	if diff := cmp.Diff([]net.HardwareAddr{l.NodeMAC(1), l.NodeMAC(2)}, r.NeighMACs); diff != "" {
		t.Errorf("NeighMACs (-want +got):\n%s", diff)
	}
}

// TestProbeDualHolder puts the VIP on two nodes at once and checks the probe
// reports a double holder.
func TestProbeDualHolder(t *testing.T) {
	prefix := netip.MustParsePrefix("192.0.2.101/24")
	l, p := probeOn(t, prefix, 1)

	// Wait for the probe's own samples, not just the kernel: a double holder
	// shorter than the sampling interval could pass unseen.
	holders := func(want ...int) {
		t.Helper()
		err := probe.WaitFor(t.Context(), func() bool { return cmp.Equal(p.LastState().Holders, want) }, settle)
		if err != nil {
			t.Fatalf("probe never sampled holders %v (last %+v): %v", want, p.LastState(), err)
		}
	}
	ipAddr(t, l, 3, "add", prefix.String())
	holders(1, 3)
	ipAddr(t, l, 3, "del", prefix.String())
	holders(1)
	r := p.Stop()
	t.Log(r)
	if r.DualHolder == 0 {
		t.Error("DualHolder = 0, want > 0: n1 and n3 both held the VIP")
	}
}

// TestProbeIPv6 checks dialing and the neighbour entry over IPv6.
func TestProbeIPv6(t *testing.T) {
	prefix := netip.MustParsePrefix("2001:db8::100/64")
	vip := prefix.Addr()
	l, p := probeOn(t, prefix, 2, "nodad")
	err := probe.WaitFor(t.Context(), func() bool {
		mac, _, err := l.ClientNeigh(vip)
		return err == nil && mac.String() == l.NodeMAC(2).String()
	}, settle)
	if err != nil {
		t.Fatalf("client has no neighbour entry for %s at n2: %v", vip, err)
	}
	r := p.Stop()
	t.Log(r)
	if diff := cmp.Diff([]string{"n2"}, r.Answerers); diff != "" {
		t.Errorf("Answerers (-want +got):\n%s", diff)
	}
}
