package e2e

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// TestVIPOfAnotherHost: a VIP with the client's own address (a typing
// mistake) is refused by the client's MAC; forced in, it is never bound, and
// `raftvip status` says who answers for it; a
// host announcing a held VIP is logged with its MAC, and the holder announces
// again so that the client's entry returns to it.
func TestVIPOfAnotherHost(t *testing.T) {
	e := newEnvWith(t, lab.Options{Intruder: true})
	h := e.startCluster()

	client := e.lab.ClientIP()
	w := e.watchHolders(client)
	clientMAC := hostMAC(t, e.lab.ClientNS())
	// The leader asks the LAN first, and refuses the client's address by
	// its MAC; forced, the VIP enters the set but no node binds it.
	out, err := e.c.CLI(e.ctx, h, "vip", "add", netip.PrefixFrom(client, 24).String())
	if err == nil || !strings.Contains(out, "answers for "+client.String()) || !strings.Contains(out, clientMAC.String()) {
		t.Fatalf("vip add of the client's address: err %v, output:\n%s\nwant a refusal naming %s", err, out, clientMAC)
	}
	e.cli(h, "vip", "add", "-force", netip.PrefixFrom(client, 24).String())
	e.await("status names the client's MAC", settle, func() error {
		out := e.cli(h, "status")
		if !strings.Contains(out, "CONFLICT") || !strings.Contains(out, "answered by "+clientMAC.String()) {
			return fmt.Errorf("status of n%d:\n%s", h, out)
		}
		return nil
	})
	e.await("the holder logs the client's MAC", settle, func() error {
		return logHas(e, h, "VIP answered by another host on the LAN", clientMAC.String())
	})
	if most, err := w.stop(); err != nil {
		t.Error(err)
	} else if most > 0 {
		t.Errorf("the client's address %s was configured on %d node(s)", client, most)
	}
	e.await(fmt.Sprintf("the client reaches %s at n%d", vip, h), settle, func() error { return e.answeredBy(vip, h) })

	// The intruder claims the held VIP: the client follows it at first, the
	// holder answers, and the client comes back.
	intruderMAC := hostMAC(t, e.lab.IntruderNS())
	e.await(fmt.Sprintf("the client's entry for %s returns to n%d after the intruder's announcement", vip, h), settle, func() error {
		if err := lab.Announce(e.lab.IntruderNS(), vip); err != nil {
			return err
		}
		if err := logHas(e, h, "another host announces a VIP this node holds", intruderMAC.String()); err != nil {
			return err
		}
		return e.neighIs(vip, h)
	})

	// A burst: the holder answers another host at most once a second, so
	// the intruder's later announcements fall within that gap. The last one
	// must still be answered once the gap has passed, or the client's entry
	// stays on the intruder until it goes stale and fails over (8 s with
	// traffic; without, not at all).
	for range 3 {
		if err := lab.Announce(e.lab.IntruderNS(), vip); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	e.await(fmt.Sprintf("the client's entry for %s returns to n%d after a burst of announcements, with none after it", vip, h), settle,
		func() error { return e.neighIs(vip, h) })
	if err := e.holdersAre(client); err != nil {
		t.Error(err)
	}
}

// hostMAC is the MAC of the lab link in namespace ns.
func hostMAC(t *testing.T, ns string) net.HardwareAddr {
	t.Helper()
	var mac net.HardwareAddr
	if err := lab.RunInNS(ns, func() error {
		ifi, err := net.InterfaceByName(lab.Link)
		if err == nil {
			mac = ifi.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return mac
}

// logHas reports an error unless a line of node i's log has every one of words.
func logHas(e *env, i int, words ...string) error {
	b, err := os.ReadFile(e.lab.LogPath(i))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		found := true
		for _, w := range words {
			found = found && strings.Contains(line, w)
		}
		if found {
			return nil
		}
	}
	return fmt.Errorf("no line of n%d's log has %q", i, words)
}
