package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// system is one system under test, running in one lab.
type system interface {
	// start starts the daemons on every node with vips and returns the node
	// that holds all of them once exactly one does.
	start(ctx context.Context, vips []netip.Prefix) (int, error)
	// pids lists every process of node i's daemon, children first.
	pids(i int) []int
	// stop stops node i's daemon gracefully (SIGTERM).
	stop(i int) error
	// move moves the VIPs off node i gracefully.
	move(ctx context.Context, i int) error
	// takeover reads the daemon's own figures of a takeover by node i after
	// fault from its log; nil when the system logs none.
	takeover(i int, fault time.Time) *bench.DaemonTimes
	// leader is node i's view of the leader and term, for the stability
	// count; ok is false when the system has no such view.
	leader(ctx context.Context, i int) (id string, term uint64, ok bool)
}

// spec names a system and profile, and makes its system for a lab.
type spec struct {
	// profile is the label of the results: the timing or VRRP profile, with
	// the transport's, the size's and the topology's suffixes.
	kind, profile string
	// lab is the layout of its labs (Dir, Responder and Logf are the
	// bench's); witness is the node that runs as a raftvip witness, 0 for
	// none.
	lab     lab.Options
	witness int
	// maxWait bounds the wait for a takeover and for one holder after it.
	maxWait time.Duration
	newSys  func(l *lab.Lab) (system, error)
}

func (s spec) title() string { return s.kind + ", " + s.profile + " profile" }

func specNames(specs []spec) string {
	var out []string
	for _, s := range specs {
		out = append(out, s.kind+"/"+s.profile)
	}
	return strings.Join(out, ", ")
}

// timeouts of the harness; only bounds of waits, never asserted.
const (
	settle     = 30 * time.Second
	apiTimeout = time.Second
	// firstBindProbe is raftvip's LAN probe before the cluster's first claim
	// binds a VIP (netops.DefaultProbeWait, "Why a VIP is probed before its
	// first bind" in netops/languard.go). Up to 64 run at once, and 1024 VIPs
	// took 3.4 s (docs/benchmarks.md); the wait still allows for one probe at
	// a time, as a bound that a loaded machine never reaches.
	firstBindProbe = 50 * time.Millisecond
)

// heldWait bounds the wait for a new cluster to hold n VIPs.
func heldWait(n int) time.Duration { return settle + time.Duration(n)*firstBindProbe }

// raftvipSpec is raftvip with a timing profile in a cluster of shape sh,
// over mutual TLS as deployed, or in plaintext (its profile then reads e.g.
// "lan-plaintext").
func raftvipSpec(profile, bin string, plaintext bool, sh shape) spec {
	newRig, label := rig.New, profile
	if plaintext {
		newRig, label = rig.NewPlaintext, profile+"-plaintext"
	}
	opts, witness := sh.layout(bench.Raftvip)
	return spec{kind: bench.Raftvip, profile: sh.label(label), lab: opts, witness: witness,
		maxWait: 6 * time.Second,
		newSys: func(l *lab.Lab) (system, error) {
			c, err := newRig(l, bin, "-timing", profile)
			if err != nil {
				return nil, err
			}
			if witness != 0 {
				c.Witnesses = map[int]bool{witness: true}
			}
			return &raftvipSys{l: l, c: c, witness: witness}, nil
		}}
}

// raftvipSys runs raftvip agents through the e2e rig.
type raftvipSys struct {
	l       *lab.Lab
	c       *rig.Cluster
	witness int // the witness node, 0 for none
}

// start bootstraps the cluster through the rig, and returns the leader once
// it alone holds every VIP. A witness that leads hands leadership on before
// any claim, so the holder is then the VIP host it handed to.
func (s *raftvipSys) start(ctx context.Context, vips []netip.Prefix) (int, error) {
	leader, err := s.c.Bootstrap(ctx, vips...)
	if err != nil {
		return 0, err
	}
	if s.witness != 0 {
		if err := s.healthReported(ctx, leader); err != nil {
			return 0, err
		}
	}
	if leader == s.witness {
		return s.handedTo(ctx, vips)
	}
	return leader, waitHeld(ctx, s.l, vips, leader)
}

// healthReported waits until the leader's state has every member's health
// report. A witness that leads hands leadership only to a VIP host whose
// report it has; a joiner's first report can fail (the leader's API address
// is not replicated yet) and is retried a second later, so a fault in that
// second would measure the start-up, not the failover of a settled cluster.
func (s *raftvipSys) healthReported(ctx context.Context, leader int) error {
	return probe.Until(ctx, "every member's health report committed", settle, func() error {
		ctx, cancel := context.WithTimeout(ctx, apiTimeout)
		defer cancel()
		st, err := s.c.StatusOf(ctx, leader)
		if err != nil {
			return err
		}
		if len(st.Members) != s.l.Nodes() {
			return fmt.Errorf("%d members, want %d", len(st.Members), s.l.Nodes())
		}
		for _, m := range st.Members {
			if !m.Health.Reported {
				return fmt.Errorf("no health report from %s yet", m.ID)
			}
		}
		return nil
	})
}

// handedTo waits until one node alone holds the last VIP, then until it
// holds them all, and returns it.
func (s *raftvipSys) handedTo(ctx context.Context, vips []netip.Prefix) (int, error) {
	var holder int
	err := probe.Until(ctx, "one VIP host holds the VIPs after the witness led", heldWait(len(vips)), func() error {
		h, err := s.l.HoldersOf(vips[len(vips)-1].Addr())
		if err != nil {
			return err
		}
		if len(h) != 1 {
			return fmt.Errorf("%s held by %v", vips[len(vips)-1], h)
		}
		holder = h[0]
		return nil
	})
	if err != nil {
		return 0, err
	}
	return holder, waitHeld(ctx, s.l, vips, holder)
}

func (s *raftvipSys) pids(i int) []int {
	if p := s.c.Proc(i); p != nil && p.Running() {
		return []int{p.PID()}
	}
	return nil
}

func (s *raftvipSys) stop(i int) error { return signalAll(s.pids(i), syscall.SIGTERM) }

// move hands leadership to the most up-to-date follower (`raftvip
// transfer`), which claims and binds the VIPs; i must be the leader.
func (s *raftvipSys) move(ctx context.Context, i int) error {
	_, err := s.c.CLI(ctx, i, "transfer")
	return err
}

func (s *raftvipSys) takeover(i int, fault time.Time) *bench.DaemonTimes {
	f, err := os.Open(s.l.LogPath(i))
	if err != nil {
		return nil
	}
	defer f.Close()
	lines, err := bench.ParseLog(f)
	if err != nil {
		return nil
	}
	d, ok := bench.Takeover(lab.NodeName(i), lines, fault)
	if !ok {
		return nil
	}
	return &d
}

func (s *raftvipSys) leader(ctx context.Context, i int) (string, uint64, bool) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	st, err := s.c.StatusOf(ctx, i)
	if err != nil {
		return "", 0, false
	}
	return st.LeaderID, st.Term, true
}

// waitHeld waits until node i alone holds every VIP of vips.
func waitHeld(ctx context.Context, l *lab.Lab, vips []netip.Prefix, i int) error {
	return probe.Until(ctx, fmt.Sprintf("n%d holds all %d VIPs", i, len(vips)), heldWait(len(vips)), func() error {
		// One address dump per node, whatever the number of VIPs.
		addrs := map[int][]netip.Addr{}
		for n := 1; n <= l.Nodes(); n++ {
			a, err := l.Addrs(n)
			if err != nil {
				return err
			}
			addrs[n] = a
		}
		return heldAlone(addrs, vips, i)
	})
}

// heldAlone says which VIP of vips is not on node i alone, given every
// node's addresses; nil when i holds them all and no other node any.
func heldAlone(addrs map[int][]netip.Addr, vips []netip.Prefix, i int) error {
	holders := map[netip.Addr][]int{}
	for _, n := range slices.Sorted(maps.Keys(addrs)) {
		for _, a := range addrs[n] {
			if h := holders[a]; len(h) == 0 || h[len(h)-1] != n { // once per node, whatever its links
				holders[a] = append(h, n)
			}
		}
	}
	for _, v := range vips {
		if h := holders[v.Addr()]; !slices.Equal(h, []int{i}) {
			return fmt.Errorf("%s held by %v", v, h)
		}
	}
	return nil
}

// signalAll sends sig to every PID, and returns the errors of those still
// there.
func signalAll(pids []int, sig syscall.Signal) error {
	if len(pids) == 0 {
		return errors.New("no process to signal")
	}
	var errs []error
	for _, pid := range pids {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("kill -%d %d: %w", sig, pid, err))
		}
	}
	return errors.Join(errs...)
}
