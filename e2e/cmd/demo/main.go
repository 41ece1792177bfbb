// Command demo builds a three-node raftvip cluster in network namespaces on
// this machine, shows who holds the VIP, cuts the leader's host off the LAN and
// prints what a client on that LAN saw. It needs root; it touches nothing
// outside the namespaces it creates and removes them all before it exits.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

const vip = "192.0.2.100"

func main() {
	bin := flag.String("bin", "", "raftvip binary (default: build it)")
	timing := flag.String("timing", "lan", "timing profile for the agents: fast, lan or wan")
	verbose := flag.Bool("v", false, "print the lab's own log lines")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: needs root to build network namespaces (try: sudo make demo)")
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *bin, *timing, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, bin, timing string, verbose bool) error {
	say := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	logf := func(string, ...any) {}
	if verbose {
		logf = func(f string, a ...any) { fmt.Fprintf(w, "  lab: "+f+"\n", a...) }
	}
	l, err := lab.New(ctx, lab.Options{Nodes: 3, Logf: logf, KeepSignals: true})
	if err != nil {
		return fmt.Errorf("build the lab: %w", err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			say("cleanup: %v", err)
		} else {
			say("\nlab removed: namespaces, links and processes are gone.")
		}
	}()
	if bin == "" {
		if bin, err = rig.Build(ctx, l.Dir()); err != nil {
			return err
		}
	}
	c, err := rig.New(l, bin, "-timing", timing)
	if err != nil {
		return err
	}
	say("lab %s: a LAN bridge, nodes n1-n3 (192.0.2.11-13), a client (192.0.2.50); timing profile %q", l.Prefix(), timing)
	say("Raft and the API over mutual TLS: a cluster CA and one certificate per node and for the operator, made with raftvip tls init and tls cert")
	if _, err := c.Bootstrap(ctx, netip.MustParsePrefix(vip+"/24")); err != nil {
		return fmt.Errorf("%w\n%s", err, l.Tails(15))
	}
	say("\n$ raftvip status   (asked from the client namespace)")
	out, _ := c.CLI(ctx, 2, "status")
	say("%s", indent(out))
	if err := l.StartResponders(ctx); err != nil {
		return err
	}
	return failover(ctx, c, say)
}

func failover(ctx context.Context, c *rig.Cluster, say func(string, ...any)) error {
	l := c.Lab
	addr := netip.MustParseAddr(vip)
	p := probe.Start(ctx, l, addr, probe.Options{})
	if err := probe.WaitFor(ctx, func() bool { return p.LastAnswer() != "" }, 10*time.Second); err != nil {
		p.Stop()
		return fmt.Errorf("the client cannot reach %s: %w", vip, err)
	}
	old := lab.NodeIndex(p.LastAnswer())
	mac, _, _ := l.ClientNeigh(addr)
	say("the client reaches %s: answered by %s; its ARP entry says %s (%s's MAC)", vip, lab.NodeName(old), mac, lab.NodeName(old))

	say("\ncutting %s off the LAN (its port on the bridge goes down, as at power loss)...", lab.NodeName(old))
	if err := l.HostDown(ctx, old); err != nil {
		p.Stop()
		return err
	}
	err := probe.WaitFor(ctx, func() bool {
		a := p.LastAnswer()
		return a != "" && lab.NodeIndex(a) != old
	}, 20*time.Second)
	// Let the probe see a few answers from the new holder before judging.
	time.Sleep(300 * time.Millisecond)
	r := p.Stop()
	if err != nil {
		return fmt.Errorf("no other node took the VIP: %w", err)
	}
	newer := lab.NodeIndex(r.TakeoverBy)
	mac, _, _ = l.ClientNeigh(addr)
	say("the client saw: outage %s, then answers from %s; its ARP entry now says %s (%s's MAC, set by gratuitous ARP)",
		r.Outage.Round(time.Millisecond), r.TakeoverBy, mac, r.TakeoverBy)
	say("two hosts holding the VIP at once: %s", r.DualHolder.Round(time.Millisecond))

	say("\nbringing %s back...", lab.NodeName(old))
	if err := l.HostUp(ctx, old); err != nil {
		return err
	}
	err = probe.WaitFor(ctx, func() bool {
		st, err := c.StatusOf(ctx, old)
		return err == nil && st.State == "Follower" && st.LeaderID == lab.NodeName(newer)
	}, 20*time.Second)
	if err != nil {
		return fmt.Errorf("%s did not rejoin as follower: %w", lab.NodeName(old), err)
	}
	holders, _ := l.HoldersOf(addr)
	say("%s is back as a follower of %s and holds nothing; VIP holders now: %s", lab.NodeName(old), lab.NodeName(newer), names(holders))
	return nil
}

func names(nodes []int) string {
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = lab.NodeName(n)
	}
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
