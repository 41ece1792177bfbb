package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// The TestMistake tests make the mistakes operators made on three-node TLS
// clusters, with the raftvip client as they typed it, and check what they
// would see: a refusal that says what is wrong and that nothing changed, and
// a cluster and a VIP that carry on as if nothing had been typed.

// TestMistakeJoinTypos: a join naming a host that does not exist, and a join
// of live n3 with a typo in its Raft address, are refused with nothing
// changed; the three voters stay, n3 keeps its address, and the client keeps
// being served by one holder of the VIP, in the same term.
func TestMistakeJoinTypos(t *testing.T) {
	e, h, p := probedCluster(t)
	before, err := e.status(h)
	if err != nil {
		t.Fatal(err)
	}
	via := h%3 + 1 // a follower: the operator's -addr is any node

	t.Log("a join of a host that does not exist")
	absentAt := time.Now()
	out, err := e.tryCLI(via, "join", "-id", "n4", "-raft-addr", "192.0.2.41:7000", "-api-addr", "192.0.2.41:8080")
	t.Logf("raftvip join -id n4 -raft-addr 192.0.2.41:7000: %v", err)
	if err == nil || !strings.Contains(out, "nothing changed") || !strings.Contains(out, "192.0.2.41") {
		t.Errorf("raftvip join of an absent host: want an error naming 192.0.2.41 and saying nothing changed, got (%v):\n%s", err, out)
	}
	e.membersAre(via, map[string]string{"n1": "192.0.2.11:7000", "n2": "192.0.2.12:7000", "n3": "192.0.2.13:7000"})

	t.Log("a join of live n3 at a mistyped Raft address")
	typoAt := time.Now()
	out, err = e.tryCLI(via, "join", "-id", "n3", "-raft-addr", "192.0.2.14:7000", "-api-addr", "192.0.2.13:8080")
	t.Logf("raftvip join -id n3 -raft-addr 192.0.2.14:7000: %v", err)
	if err == nil || !strings.Contains(out, "n3") || !strings.Contains(out, "192.0.2.13:7000") {
		t.Errorf("raftvip join of live n3 at another address: want an error naming n3 and its live address 192.0.2.13:7000, got (%v):\n%s", err, out)
	}
	for _, i := range []int{via, h} {
		e.membersAre(i, map[string]string{"n1": "192.0.2.11:7000", "n2": "192.0.2.12:7000", "n3": "192.0.2.13:7000"})
	}

	r := e.stopSteady(p, vip, h)
	t.Logf("measured: through both refused joins (sent %v and %v into the probe) the client's longest outage was %v "+
		"(from %v), the longest time without a holder %v; %s", absentAt.Sub(r.Start).Round(time.Millisecond),
		typoAt.Sub(r.Start).Round(time.Millisecond), r.Outage.Round(time.Millisecond), r.OutageFrom,
		r.NoHolder.Round(time.Millisecond), r)
	e.noDualHolder(r)
	if err := e.holdersAre(vip, h); err != nil {
		t.Error(err)
	}
	after, err := e.status(h)
	if err != nil {
		t.Fatal(err)
	}
	if after.Term != before.Term || after.LeaderID != before.LeaderID {
		t.Errorf("leader %s in term %d before the joins, %s in term %d after: a refused join must not cost an election",
			before.LeaderID, before.Term, after.LeaderID, after.Term)
	}
}

// membersAre fails the test unless `raftvip members` through node i lists
// exactly the voters want (ID to Raft address), and nobody else.
func (e *env) membersAre(i int, want map[string]string) {
	e.t.Helper()
	out := e.cli(i, "members")
	got := map[string]string{}
	for line := range strings.Lines(out) {
		// ID RAFT API SUFFRAGE ...; the first four are never empty.
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "ID" {
			continue
		}
		if !strings.EqualFold(f[3], "voter") {
			e.t.Errorf("raftvip members through n%d: %s is a %s:\n%s", i, f[0], f[3], out)
		}
		got[f[0]] = f[1]
	}
	if !maps.Equal(got, want) {
		e.t.Errorf("raftvip members through n%d: want %v, got:\n%s", i, want, out)
	}
}

// TestMistakeVIPOnMemberAddress: `vip add` of n1's own address is refused
// naming n1, `vip rm` of it finds no such VIP, and `raftvip release` on n1
// with that address in its config's vip list leaves it. Throughout, n1's
// address stays on n1 alone and the client reaches n1 there.
func TestMistakeVIPOnMemberAddress(t *testing.T) {
	e := newEnv(t)
	h := e.startCluster()
	own := e.lab.NodeIP(1)
	p := e.probe(own, 1)

	cidr := netip.PrefixFrom(own, 24).String()
	out, err := e.tryCLI(2, "vip", "add", cidr)
	t.Logf("raftvip vip add %s: %v", cidr, err)
	if err == nil || !strings.Contains(out, "n1") {
		t.Errorf("raftvip vip add %s (n1's address): want an error naming n1, got (%v):\n%s", cidr, err, out)
	}
	for i := 1; i <= 3; i++ {
		if err := e.hasVIPs(i, vipPrefix.String()); err != nil {
			t.Error(err)
		}
	}
	if out := e.cli(3, "vip", "ls"); strings.Contains(out, own.String()) || !strings.Contains(out, vipPrefix.String()) {
		t.Errorf("raftvip vip ls after the refused add:\n%s", out)
	}

	out, err = e.tryCLI(2, "vip", "rm", own.String())
	t.Logf("raftvip vip rm %s: %v", own, err)
	if err == nil || !strings.Contains(out, "no such VIP") {
		t.Errorf("raftvip vip rm %s: want an error saying there is no such VIP, got (%v):\n%s", own, err, out)
	}

	t.Log("raftvip release on n1, its config listing its own address as a VIP")
	e.systemctlStop(1)
	if h == 1 {
		h = e.waitHolder(vip, 1)
	}
	conf := filepath.Join(e.lab.Dir(), "n1-release.yaml")
	yaml := fmt.Sprintf("data-dir: %s\ninterface: %s\nvip:\n  - %s\n  - %s\n", e.c.DataDir(1), lab.Link, vipPrefix, cidr)
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = e.lab.Exec(e.ctx, e.lab.NodeNS(1), bins.raftvip, "release", "-config", conf)
	t.Logf("raftvip release: %v\n%s", err, out)
	if err != nil || !strings.Contains(out, "not added by raftvip: left in place") || !strings.Contains(out, cidr) {
		t.Errorf("raftvip release on n1: want it to say it left %s in place, got (%v):\n%s", cidr, err, out)
	}
	e.restart(1)
	e.await("n1 back as a follower", settle, func() error { return e.follows(1, h, vip) })

	e.awaitAnswer(p, 1)
	r := p.Stop()
	t.Logf("measured: the client's longest outage at n1's address %s was %v; %s", own, r.Outage.Round(time.Millisecond), r)
	if r.HolderSamples == 0 || r.HolderFailed > 0 {
		t.Errorf("%d samples of who has %s, %d failed: it could have moved unseen", r.HolderSamples, own, r.HolderFailed)
	}
	mac := e.lab.NodeMAC(1)
	for _, s := range r.States {
		if s.Err != "" {
			continue
		}
		if !slices.Equal(s.Holders, []int{1}) {
			t.Errorf("%v into the test %s was on %s, want n1 alone", s.At, own, names(s.Holders))
			break
		}
		if s.NeighMAC != nil && !bytes.Equal(s.NeighMAC, mac) {
			t.Errorf("%v into the test the client's entry for %s was %v, not n1's %v: another node announced it", s.At, own, s.NeighMAC, mac)
			break
		}
	}
}

// TestMistakeCLI shares one cluster among the client's refusals and answers
// that an operator reads: a prefix change without -replace, reading one's
// own write through another node, a missing token and a wrong -addr, and a
// transfer to the node that already leads.
func TestMistakeCLI(t *testing.T) {
	e := newEnv(t)
	e.startCluster()

	t.Run("PrefixChangeNeedsReplace", func(t *testing.T) {
		e := e.in(t)
		const v24, v25 = "192.0.2.101/24", "192.0.2.101/25"
		e.write(2, "vip", "add", v24)
		out, err := e.tryCLI(2, "vip", "add", v25)
		t.Logf("raftvip vip add %s over %s: %v", v25, v24, err)
		if err == nil || !strings.Contains(out, "409") || !strings.Contains(out, v24) || !strings.Contains(out, "-replace") {
			t.Errorf("raftvip vip add %s: want a 409 naming %s and -replace, got (%v):\n%s", v25, v24, err, out)
		}
		if out := e.cli(3, "vip", "ls"); !strings.Contains(out, v24) || strings.Contains(out, v25) {
			t.Errorf("raftvip vip ls after the refused change:\n%s", out)
		}
		e.write(2, "vip", "add", v25, "-replace")
		for i := 1; i <= 3; i++ {
			e.await(fmt.Sprintf("n%d has %s", i, v25), settle, func() error { return e.hasVIPs(i, vipPrefix.String(), v25) })
		}
		h := e.waitHolder(vip, 0)
		e.await(fmt.Sprintf("n%d's kernel has %s", h, v25), settle, func() error {
			out, err := e.lab.Exec(e.ctx, e.lab.NodeNS(h), "ip", "-o", "addr", "show", "dev", lab.Link)
			if err != nil || !strings.Contains(out, " "+v25+" ") {
				return fmt.Errorf("n%d's addresses (%v):\n%s", h, err, out)
			}
			return nil
		})
		e.write(2, "vip", "rm", addrOf(v25).String())
	})

	t.Run("ReadYourWrites", func(t *testing.T) {
		e := e.in(t)
		for k := range 5 {
			v := fmt.Sprintf("192.0.2.%d/24", 110+k)
			e.write(2, "vip", "add", v)
			if out := e.cli(3, "vip", "ls"); !strings.Contains(out, v) {
				t.Errorf("raftvip vip ls through n3 right after vip add %s through n2 (%d of 5):\n%s", v, k+1, out)
			}
		}
	})

	t.Run("TokenAndAddr", func(t *testing.T) {
		e := e.in(t)
		before, err := e.vipSet(1)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.cliBare("vip", "add", "192.0.2.120/24", "-addr", e.c.APIAddr(1))
		t.Logf("raftvip vip add without a token: %v: %s", err, out)
		if err == nil || !strings.Contains(out, "-token-file") || !strings.Contains(out, "RAFTVIP_TOKEN_FILE") {
			t.Errorf("raftvip vip add without a token: want an error naming -token-file and RAFTVIP_TOKEN_FILE, got (%v):\n%s", err, out)
		}
		if err := e.hasVIPs(1, before...); err != nil {
			t.Error(err)
		}

		host := e.lab.NodeIP(1).String()
		if out, err := e.cliBare("vip", "ls", "-addr", host); err != nil || !strings.Contains(out, vipPrefix.String()) {
			t.Errorf("raftvip vip ls -addr %s (no port, so 8080): %v\n%s", host, err, out)
		}
		raftAddr := netip.AddrPortFrom(e.lab.NodeIP(1), rig.RaftPort).String()
		start := time.Now()
		out, err = e.cliBare("status", "-addr", raftAddr)
		t.Logf("measured: raftvip status -addr %s failed after %v: %v: %s", raftAddr, since(start), err, out)
		if err == nil || !strings.Contains(out, "Raft port") {
			t.Errorf("raftvip status -addr %s: want an error asking whether that is the Raft port, got (%v):\n%s", raftAddr, err, out)
		}
	})

	// Last: it moves the leadership.
	t.Run("TransferToLeader", func(t *testing.T) {
		e := e.in(t)
		h := e.waitHolder(vip, 0)
		before, err := e.status(h)
		if err != nil {
			t.Fatal(err)
		}
		leader := lab.NodeName(h)
		via := h%3 + 1
		out := e.write(via, "transfer", leader)
		if !strings.Contains(out, leader) || !strings.Contains(out, "nothing to transfer") {
			t.Errorf("raftvip transfer %s (the leader): want it to say %s already leads and nothing moved, got:\n%s", leader, leader, out)
		}
		after, err := e.status(h)
		if err != nil {
			t.Fatal(err)
		}
		if after.LeaderID != leader || after.Term != before.Term {
			t.Errorf("after a transfer to the leader: leader %s in term %d, was %s in term %d", after.LeaderID, after.Term, leader, before.Term)
		}
		if err := e.holds(h, vip); err != nil {
			t.Error(err)
		}

		to := lab.NodeName(via)
		out = e.write(via, "transfer", to)
		if !strings.Contains(out, "transferred to "+to) {
			t.Errorf("raftvip transfer %s: want it to name %s as the new leader, got:\n%s", to, to, out)
		}
		if n := e.waitHolder(vip, h); n != via {
			t.Errorf("n%d holds the VIP after the transfer to %s", n, to)
		}
	})
}

// in is e for subtest t, once one node holds the VIP: its waits fail t,
// and end with it.
func (e *env) in(t *testing.T) *env {
	s := *e
	s.t, s.ctx = t, t.Context()
	s.waitHolder(vip, 0)
	return &s
}

// write runs a change through node i (tryCLI) and fails the test unless it
// succeeds.
func (e *env) write(i int, args ...string) string {
	e.t.Helper()
	out, err := e.tryCLI(i, args...)
	if err != nil {
		e.t.Fatalf("raftvip %s through n%d: %v", strings.Join(args, " "), i, err)
	}
	return out
}

// tryCLI runs the raftvip client against node i as an operator would: again
// when the answer is that nothing was applied for want of a leader (503, an
// election under way, which a loaded machine sees now and then), and
// returns the first other answer.
func (e *env) tryCLI(i int, args ...string) (string, error) {
	e.t.Helper()
	var out string
	var err error
	e.await("raftvip "+strings.Join(args, " ")+" answered by a leader", settle, func() error {
		out, err = e.c.CLI(e.ctx, i, args...)
		if err != nil && strings.Contains(out, "not applied") && strings.Contains(out, "(HTTP 503)") {
			e.t.Logf("raftvip %s through n%d, again: %s", strings.Join(args, " "), i, strings.TrimSpace(out))
			return err
		}
		return nil
	})
	return out, err
}

// cliBare runs the raftvip client in the client namespace with the
// operator's certificate and nothing else: no -addr, no -token-file and no
// RAFTVIP_ variable of the test's environment, so args say it all.
func (e *env) cliBare(args ...string) (string, error) {
	argv := append(slices.Clone(args), e.c.TLSArgs(rig.Admin)...)
	cmd := e.lab.Cmd(e.lab.ClientNS(), e.c.Bin, argv...)
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "RAFTVIP_") })
	out, err := cmd.CombinedOutput()
	return string(out), err
}
