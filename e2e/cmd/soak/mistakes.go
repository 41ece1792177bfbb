package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/history"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// Operator mistakes and a rogue host: faults that do not impair a node, but
// that the cluster must refuse or outlast (docs/reliability.md, "Fault
// catalogue").

// absentHost is an address on the lab's LAN that no host has: above every
// node's (192.0.2.11-17), below the intruder's (.66).
var absentHost = netip.MustParseAddr("192.0.2.41")

// drawMistake picks the node the mistaken call goes through and, in detail,
// which mistake; the call impairs nobody.
func drawMistake(variants int) func(*run, *rand.Rand, *plan) bool {
	return func(r *run, rng *rand.Rand, p *plan) bool {
		p.variant, p.member, p.via = rng.IntN(variants), 1+rng.IntN(r.cfg.nodes), 1+rng.IntN(r.cfg.nodes)
		// The member it names is claimed like a fault's target: while a
		// leave_join has taken it out of the cluster its address is no
		// member's, and adding it as a VIP is no longer a mistake the
		// cluster can see.
		p.targets = []int{p.member}
		p.detail = fmt.Sprintf("through n%d, naming n%d", p.via, p.member)
		return true
	}
}

// injectMistakeVIP adds a member's own address as a VIP, as a typo in
// `raftvip vip add` would: the cluster must refuse it (409) and never bind it.
func injectMistakeVIP(ctx context.Context, r *run, p *plan) error {
	m := p.member
	v := netip.PrefixFrom(r.lab.NodeIP(m), 24).String()
	r.call(ctx, p.via, history.OpMistakeVIP, v, http.MethodPost, "/v1/vips", map[string]string{"prefix": v})
	return nil
}

// injectMistakeJoin sends a join the cluster must refuse: a host that does
// not exist, a live member at a mistyped address, a member at another
// member's address, or a Raft address that is a VIP.
func injectMistakeJoin(ctx context.Context, r *run, p *plan) error {
	m := p.member
	other := m%r.cfg.nodes + 1
	id := lab.NodeName(m)
	raftAt := func(a netip.Addr) string { return netip.AddrPortFrom(a, rig.RaftPort).String() }
	var body map[string]string
	switch p.variant {
	case 0:
		id = "n9"
		body = map[string]string{"raft_addr": raftAt(absentHost), "api_addr": netip.AddrPortFrom(absentHost, rig.HTTPPort).String()}
	case 1:
		body = map[string]string{"raft_addr": raftAt(absentHost), "api_addr": r.c.APIAddr(m)}
	case 2:
		body = map[string]string{"raft_addr": raftAt(r.lab.NodeIP(other)), "api_addr": r.c.APIAddr(m)}
	default:
		id = "n9"
		body = map[string]string{"raft_addr": raftAt(mainVIP.Addr()), "api_addr": netip.AddrPortFrom(mainVIP.Addr(), rig.HTTPPort).String()}
	}
	body["id"] = id
	r.call(ctx, p.via, history.OpMistakeJoin, id, http.MethodPost, "/v1/join", body)
	return nil
}

// injectRebuildBootstrap rebuilds a node as docs/operations.md ("Rebuild a
// node") says, but with `bootstrap` left in its config: stopped, removed
// through another member, data dir emptied, started again with -bootstrap,
// the join list and the VIP. The node must find the running cluster and join
// it, not bootstrap a second one. It runs alone (exclusive): a node that
// reaches none of its peers cannot know that a cluster exists.
func injectRebuildBootstrap(ctx context.Context, r *run, p *plan) error {
	t := p.targets[0]
	id := lab.NodeName(t)
	if err := r.stopNode(t); err != nil {
		return err
	}
	bg := context.WithoutCancel(ctx)
	others := r.others(t)
	k := 0
	if !r.retryUntil(bg, 30*time.Second, gone, func() history.Call {
		k++
		return r.call(bg, others[k%len(others)], history.OpLeave, id, http.MethodPost, "/v1/leave", map[string]string{"id": id})
	}) {
		p.detail += "; leave never acknowledged"
	}
	if err := os.RemoveAll(r.c.DataDir(t)); err != nil {
		return err
	}
	sleep(ctx, p.dur)
	// The agent joins by itself: recorded as a join without an answer, so
	// that the checker knows the membership may have changed.
	r.rec.Add(history.Event{Kind: history.KindAPI, Node: t, Err: "the agent joins by itself (-bootstrap with -join)",
		Call: &history.Call{Op: history.OpJoin, Arg: id}})
	return r.start(bg, t, "-bootstrap", "-join", r.c.JoinAddrs(t), "-vip", mainVIP.String())
}

// drawRogue plans a host on the LAN, neither node nor client, announcing the
// main VIP as its own a few times: the holder must answer it and the client
// come back.
func drawRogue(r *run, rng *rand.Rand, p *plan) bool {
	n := 2 + rng.IntN(6)
	for range n {
		p.flips = append(p.flips, time.Duration(200+rng.IntN(400))*time.Millisecond)
	}
	p.detail = fmt.Sprintf("%d gratuitous ARPs for %s from %s", n, mainVIP.Addr(), r.lab.IntruderIP())
	return true
}

func injectRogue(ctx context.Context, r *run, p *plan) error {
	for _, d := range p.flips {
		if err := lab.Announce(r.lab.IntruderNS(), mainVIP.Addr()); err != nil {
			return err
		}
		sleep(ctx, d)
	}
	return nil
}
