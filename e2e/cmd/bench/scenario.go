package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// scenario is one kind of failover: a fault on the VIP holder and, for
// faults that end, the recovery at the end of the run.
type scenario struct {
	name, about string
	// vips is how many VIPs the cluster holds (vipList); spare: they come
	// from spareVIPs (-vips). counted: the name states the count (moveN),
	// so -vips leaves it.
	vips           int
	spare, counted bool
	fault          func(ctx context.Context, e env, victim int) error
	recover        func(ctx context.Context, e env, victim int) error
	// recovery labels the recovery in the timeline.
	recovery string
	// steady: nobody should take over (steady.go); the run watches the
	// client for a fixed time after the fault.
	steady bool
}

// env is what a fault acts on.
type env struct {
	lab interface {
		HostDown(context.Context, int) error
		HostUp(context.Context, int) error
		Partition(context.Context, int) error
		PartitionAll(context.Context, int) error
		RoutedWitness() int
		Heal(context.Context) error
	}
	sys system
}

// cutOff cuts node v off from the other nodes, and from a routed witness
// too when the lab has one (lab.PartitionAll): with a witness, cutting the
// holder off from the other VIP host alone moves nothing (its majority is
// intact), so the failover to measure is the holder losing both.
func (e env) cutOff(ctx context.Context, v int) error {
	if e.lab.RoutedWitness() != 0 {
		return e.lab.PartitionAll(ctx, v)
	}
	return e.lab.Partition(ctx, v)
}

// startAgain starts node v's stopped daemon again once it has exited, as
// systemd does, and waits until it is back among its peers.
func (e env) startAgain(ctx context.Context, v int) error {
	r, ok := e.sys.(restarter)
	if !ok {
		return errors.New("this system cannot start a daemon again")
	}
	if err := r.restart(ctx, v); err != nil {
		return err
	}
	return e.rejoined(ctx, v)
}

// rejoined waits until node v is back among its peers where the system can
// tell (a raftvip agent follows a leader again), so that the run watches
// the client while it rejoins, not only while it starts.
func (e env) rejoined(ctx context.Context, v int) error {
	if r, ok := e.sys.(rejoiner); ok {
		return r.rejoined(ctx, v)
	}
	return nil
}

var scenarios = []scenario{
	{name: "hostdown", about: "the leader's host loses the LAN (its bridge port goes down); back at the end", vips: 1,
		fault: func(ctx context.Context, e env, v int) error { return e.lab.HostDown(ctx, v) },
		recover: func(ctx context.Context, e env, v int) error {
			if err := e.lab.HostUp(ctx, v); err != nil {
				return err
			}
			return e.rejoined(ctx, v)
		},
		recovery: "host up"},
	{name: "partition", about: "the leader is cut off from its peers (a witness included), the client still reaches it; healed at the end", vips: 1,
		fault:    func(ctx context.Context, e env, v int) error { return e.cutOff(ctx, v) },
		recover:  func(ctx context.Context, e env, _ int) error { return e.lab.Heal(ctx) },
		recovery: "heal"},
	{name: "sigkill", about: "the leader's daemon is SIGKILLed, its host stays up", vips: 1,
		fault: func(_ context.Context, e env, v int) error { return signalAll(e.sys.pids(v), syscall.SIGKILL) }},
	{name: "sigstop", about: "the leader's daemon is frozen with SIGSTOP; SIGCONT at the end", vips: 1,
		fault:    func(_ context.Context, e env, v int) error { return signalAll(e.sys.pids(v), syscall.SIGSTOP) },
		recover:  func(_ context.Context, e env, v int) error { return signalAll(e.sys.pids(v), syscall.SIGCONT) },
		recovery: "SIGCONT"},
	{name: "sigterm", about: "the leader's daemon is stopped gracefully with SIGTERM; started again at the end", vips: 1,
		fault:    func(_ context.Context, e env, v int) error { return e.sys.stop(v) },
		recover:  func(ctx context.Context, e env, v int) error { return e.startAgain(ctx, v) },
		recovery: "restart"},
	moveScenario(1), moveScenario(16), moveScenario(256),
}

// moveScenario moves n VIPs: `raftvip transfer` for raftvip, a graceful
// stop for keepalived, which has no transfer command.
func moveScenario(n int) scenario {
	return scenario{name: fmt.Sprintf("move%d", n), vips: n, counted: true,
		about: fmt.Sprintf("%d VIPs move: raftvip transfer (keepalived: SIGTERM of the master)", n),
		fault: func(ctx context.Context, e env, v int) error { return e.sys.move(ctx, v) }}
}

func scenarioNames() []string {
	var out []string
	for _, s := range allScenarios() {
		out = append(out, s.name)
	}
	return out
}

// failoverNames are the scenarios run by default.
func failoverNames() []string {
	var out []string
	for _, s := range scenarios {
		out = append(out, s.name)
	}
	return out
}

// allScenarios is the failovers, then the faults nobody should notice.
func allScenarios() []scenario {
	return append(append([]scenario(nil), scenarios...), steadyScenarios...)
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range allScenarios() {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// withVIPs is sc holding n VIPs (-vips): a failover whose name does not
// state its count holds n VIPs from spareVIPs, and carries the count in its
// name ("hostdown-1024vips"), so its rows never mix with the one-VIP runs.
// n = 0 leaves sc as it is, and so do the moveN and steady scenarios.
func (sc scenario) withVIPs(n int) scenario {
	if n == 0 || sc.counted || sc.steady {
		return sc
	}
	sc.name = fmt.Sprintf("%s-%dvips", sc.name, n)
	sc.about = fmt.Sprintf("%s; %d VIPs", sc.about, n)
	sc.vips, sc.spare = n, true
	return sc
}

// addrs is the VIPs the cluster holds in sc, and the one the probe watches.
// The scenarios' own lists are probed at their last VIP, which raftvip binds
// last (the state is in address order, IPv4 first); a -vips list at its last
// IPv4 VIP, as the probe is an IPv4 client.
func (sc scenario) addrs() (vips []netip.Prefix, probed netip.Addr) {
	if !sc.spare {
		vips = vipList(sc.vips)
		return vips, vips[len(vips)-1].Addr()
	}
	vips = spareVIPs(sc.vips)
	probed = vips[len(vips)-1].Addr()
	for _, v := range vips {
		if v.Addr().Is4() {
			probed = v.Addr()
		}
	}
	return vips, probed
}

// maxVIPs bounds -vips: each VIP is one -vip flag of the bootstrapping agent.
const maxVIPs = 4096

// vipList is the scenarios' own n VIPs: up to 128 IPv4 addresses from
// 192.0.2.100 (to .227), then IPv6 (documentation ranges only).
func vipList(n int) []netip.Prefix {
	v4 := make([]netip.Addr, 128)
	for k := range v4 {
		v4[k] = netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + k)})
	}
	return vipSet(v4, n)
}

// spareVIPs is n VIPs for -vips: every IPv4 address of the LAN's subnet that
// no lab host takes (lab.SpareIPv4; 211 of them), then IPv6. IPv4 may only
// come from 192.0.2.0/24 and 198.51.100.0/24, and the latter is the routed
// witness's subnet, off the client's LAN: a large set cannot be IPv4 only.
func spareVIPs(n int) []netip.Prefix { return vipSet(lab.SpareIPv4(), n) }

// vipSet is n VIPs: the addresses of v4 in order as /24s while they last,
// then 2001:db8::1:1 and up as /64s.
func vipSet(v4 []netip.Addr, n int) []netip.Prefix {
	out := make([]netip.Prefix, 0, n)
	v6 := netip.MustParseAddr("2001:db8::1:0")
	for k := range n {
		if k < len(v4) {
			out = append(out, netip.PrefixFrom(v4[k], 24))
			continue
		}
		v6 = v6.Next()
		out = append(out, netip.PrefixFrom(v6, 64))
	}
	return out
}

// vipsNote explains the "-Nvips" scenarios in results.md.
func vipsNote(n int) string {
	vips, probed := scenario{vips: n, spare: true}.addrs()
	v4 := 0
	for _, v := range vips {
		if v.Addr().Is4() {
			v4++
		}
	}
	return fmt.Sprintf("Scenarios ending in -%dvips (-vips %d): the cluster holds %d VIPs, %d IPv4 (/24: every address of "+
		"192.0.2.0/24 no lab host takes, i.e. all but .0-.2, the nodes' .11-.49, the client's .50, the intruder's .66 and .255) "+
		"and %d IPv6 (/64, from 2001:db8::1:1); the probe watches %s. \"All VIPs bound and announced, per run\" gives the time "+
		"from the committed claim to the last of them bound and announced, from the new leader's log.",
		n, n, n, v4, n-v4, probed)
}
