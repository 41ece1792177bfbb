package e2e

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLeaderHostLoss: the leader's host drops off the LAN. Another node takes
// the VIP, the client's neighbour entry moves to its MAC without the client
// asking (no ARP request for the VIP leaves the client: the gratuitous ARP did
// it), and the client's connections resume. When the host comes back its node
// holds nothing and follows the new leader.
func TestLeaderHostLoss(t *testing.T) {
	e, old, p := probedCluster(t)
	e.await("the client's entry points at the holder", settle, func() error { return e.neighIs(vip, old) })
	arpRequests := e.countARPRequests(vip)
	before := arpRequests()

	downAt := time.Now()
	if err := e.lab.HostDown(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	n := e.waitHolder(vip, old)
	heldAfter := since(downAt)
	e.await("the client's neighbour entry moves to the new holder", settle, func() error { return e.neighIs(vip, n) })
	movedAfter := since(downAt)
	if sent := arpRequests() - before; sent != 0 {
		t.Errorf("the client sent %d ARP requests for %s before its entry moved to n%d's MAC; "+
			"the new holder's gratuitous ARP should have moved it", sent, vip, n)
	}
	_, state, _ := e.lab.ClientNeigh(vip)
	r := e.stopSteady(p, vip, n)
	t.Logf("measured: host loss of n%d: n%d holds the VIP after %v, the client's entry moved (now %s) after %v; %s",
		old, n, heldAfter, state, movedAfter, r)

	if err := e.lab.HostUp(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	e.await(fmt.Sprintf("n%d back as a follower holding nothing", old), settle, func() error { return e.follows(old, n, vip) })
}

// TestLeaderPartitioned: the leader is cut off from its peers but not from the
// client. It drops the VIP, another node takes it, and at no moment do two
// nodes hold it; after the partition heals exactly one node holds it and the
// client reaches that node.
func TestLeaderPartitioned(t *testing.T) {
	e, old, p := probedCluster(t)

	cutAt := time.Now()
	if err := e.lab.Partition(e.ctx, old); err != nil {
		t.Fatal(err)
	}
	n := e.waitHolder(vip, old)
	heldAfter := since(cutAt)
	// The client still reaches the old leader: it must say it holds nothing.
	e.await(fmt.Sprintf("partitioned n%d says it holds nothing", old), settle, func() error { return e.notHolder(old) })
	e.awaitAnswer(p, n)

	if err := e.lab.Heal(e.ctx); err != nil {
		t.Fatal(err)
	}
	h := e.waitHolder(vip, 0)
	for i := 1; i <= 3; i++ {
		if i != h {
			e.await(fmt.Sprintf("n%d follows n%d after the heal", i, h), settle, func() error { return e.follows(i, h, vip) })
		}
	}
	r := e.stopSteady(p, vip, h)
	t.Logf("measured: partition of n%d: n%d holds the VIP after %v; after the heal n%d holds it; %s", old, n, heldAfter, h, r)
	e.noDualHolder(r)
}

// countARPRequests installs a counter of the ARP requests for addr that leave
// the client, and returns a function reading it.
func (e *env) countARPRequests(addr netip.Addr) func() int {
	e.t.Helper()
	const table = "e2e"
	script := fmt.Sprintf(`add table arp %[1]s
add chain arp %[1]s out { type filter hook output priority 0; policy accept; }
add rule arp %[1]s out arp operation request arp daddr ip %[2]s counter
`, table, addr)
	cmd := e.lab.Cmd(e.lab.ClientNS(), "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("nft in the client: %v: %s", err, out)
	}
	packets := regexp.MustCompile(`counter packets (\d+)`)
	return func() int {
		e.t.Helper()
		out, err := e.lab.Exec(e.ctx, e.lab.ClientNS(), "nft", "list", "chain", "arp", table, "out")
		if err != nil {
			e.t.Fatal(err)
		}
		m := packets.FindStringSubmatch(out)
		if m == nil {
			e.t.Fatalf("no counter in: %s", out)
		}
		n, _ := strconv.Atoi(m[1]) // \d+ always parses
		return n
	}
}
