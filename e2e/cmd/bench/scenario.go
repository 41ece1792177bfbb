package main

import (
	"context"
	"fmt"
	"net/netip"
	"syscall"
)

// scenario is one kind of failover: a fault on the VIP holder and, for
// faults that end, the recovery at the end of the run.
type scenario struct {
	name, about string
	// vips is how many VIPs the cluster holds; the probe watches the last,
	// which is bound last.
	vips    int
	fault   func(ctx context.Context, e env, victim int) error
	recover func(ctx context.Context, e env, victim int) error
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

var scenarios = []scenario{
	{name: "hostdown", about: "the leader's host loses the LAN (its bridge port goes down)", vips: 1,
		fault: func(ctx context.Context, e env, v int) error { return e.lab.HostDown(ctx, v) }},
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
	{name: "sigterm", about: "the leader's daemon is stopped gracefully with SIGTERM", vips: 1,
		fault: func(_ context.Context, e env, v int) error { return e.sys.stop(v) }},
	moveScenario(1), moveScenario(16), moveScenario(256),
}

// moveScenario moves n VIPs: `raftvip transfer` for raftvip, a graceful
// stop for keepalived, which has no transfer command.
func moveScenario(n int) scenario {
	return scenario{name: fmt.Sprintf("move%d", n), vips: n,
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

// vipList is n VIPs: up to 128 IPv4 addresses from 192.0.2.100, then IPv6
// addresses 2001:db8::1:1 and up (documentation ranges only).
func vipList(n int) []netip.Prefix {
	var out []netip.Prefix
	for k := range n {
		if k < 128 {
			out = append(out, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(100 + k)}), 24))
			continue
		}
		out = append(out, netip.MustParsePrefix(fmt.Sprintf("2001:db8::1:%x/64", k-127)))
	}
	return out
}
