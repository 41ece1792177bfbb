package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// The cluster's first VIP, seeded by the bootstrapping node.
var (
	vipPrefix = netip.MustParsePrefix("192.0.2.100/24")
	vip       = vipPrefix.Addr()
)

const (
	// settle bounds every wait for the cluster to reach a state. The waits
	// poll, so a healthy cluster passes in well under a second.
	settle = 20 * time.Second
	// kernelLease bounds how long a killed or frozen daemon's VIP survives in
	// its kernel: -vip-lease 1s plus the kernel's 1 s granularity, with room
	// for a loaded machine. Only an upper bound for a wait, never asserted.
	kernelLease = 5 * time.Second
	// apiTimeout bounds one API call, so a node cut off the LAN costs a poll
	// one short wait rather than the rig client's 5 s.
	apiTimeout = time.Second
	// exitWait bounds how long a daemon may take to exit.
	exitWait = 20 * time.Second
)

// env is one test's lab and cluster.
type env struct {
	t   *testing.T
	ctx context.Context
	lab *lab.Lab
	c   *rig.Cluster
}

// newEnv builds a three-node lab with responders, and a cluster that has not
// started yet. -vip-lease is the default, given here because kernelLease
// depends on it.
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, lab.Options{})
}

// newEnvWith is newEnv with lab options (an intruder, say); the node count and
// the responder are newEnv's.
func newEnvWith(t *testing.T, opts lab.Options) *env {
	t.Helper()
	return newEnvRig(t, opts, rig.New)
}

// newEnvRig is newEnvWith with the rig constructor given: rig.New (TLS) or
// rig.NewPlaintext.
func newEnvRig(t *testing.T, opts lab.Options, newRig func(*lab.Lab, string, ...string) (*rig.Cluster, error)) *env {
	t.Helper()
	opts.Nodes, opts.Responder = 3, bins.responder
	l := lab.ForTest(t, opts)
	c, err := newRig(l, bins.raftvip, "-vip-lease", "1s")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.StartResponders(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: t.Context(), lab: l, c: c}
}

// probedCluster starts a three-node cluster and a probe of its VIP, and
// returns them once the holder answers the probe.
func probedCluster(t *testing.T) (e *env, holder int, p *probe.Probe) {
	t.Helper()
	e = newEnv(t)
	holder = e.startCluster()
	return e, holder, e.probe(vip, holder)
}

// signal sends sig to node i's agent and returns when it did.
func (e *env) signal(i int, sig syscall.Signal) time.Time {
	e.t.Helper()
	at := time.Now()
	if err := e.c.Proc(i).Signal(sig); err != nil {
		e.t.Fatal(err)
	}
	return at
}

// start starts node i's agent with extra flags.
func (e *env) start(i int, extra ...string) *lab.Proc {
	e.t.Helper()
	p, err := e.c.Start(e.ctx, i, extra...)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// restart starts node i's agent again with the flags it last had.
func (e *env) restart(i int) *lab.Proc {
	e.t.Helper()
	p, err := e.c.Restart(e.ctx, i)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// startCluster bootstraps n1 with the VIP, joins n2 and n3, and returns the
// holder once all three are voters and exactly one node holds the VIP.
func (e *env) startCluster() int {
	e.t.Helper()
	if _, err := e.c.Bootstrap(e.ctx, vipPrefix); err != nil {
		e.t.Fatal(err)
	}
	return e.waitHolder(vip, 0)
}

// await polls check until it returns nil, and fails the test with check's
// last error when timeout passes first.
func (e *env) await(what string, timeout time.Duration, check func() error) {
	e.t.Helper()
	if err := probe.Until(e.ctx, what, timeout, check); err != nil {
		e.t.Fatal(err)
	}
}

// holdersAre reports an error unless exactly the nodes want hold addr.
func (e *env) holdersAre(addr netip.Addr, want ...int) error {
	got, err := e.lab.HoldersOf(addr)
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("%s is held by %s, want %s", addr, names(got), names(want))
	}
	return nil
}

// holds reports an error unless node i alone holds every addr and its
// /v1/leader answers 200.
func (e *env) holds(i int, addrs ...netip.Addr) error {
	for _, a := range addrs {
		if err := e.holdersAre(a, i); err != nil {
			return err
		}
	}
	if code, err := e.leaderCode(i); err != nil || code != http.StatusOK {
		return fmt.Errorf("n%d holds the VIPs but /v1/leader says %d (%v)", i, code, err)
	}
	return nil
}

// waitHolder waits until exactly one node other than not (0: any) holds addr
// and says so on /v1/leader, and returns it.
func (e *env) waitHolder(addr netip.Addr, not int) int {
	e.t.Helper()
	var h int
	e.await(fmt.Sprintf("one holder of %s other than n%d", addr, not), settle, func() error {
		hs, err := e.lab.HoldersOf(addr)
		if err != nil {
			return err
		}
		if len(hs) != 1 || hs[0] == not {
			return fmt.Errorf("%s is held by %s", addr, names(hs))
		}
		h = hs[0]
		return e.holds(h, addr)
	})
	return h
}

// leaderCode is the HTTP status of node i's /v1/leader: 200 on the holder,
// 503 elsewhere.
func (e *env) leaderCode(i int) (int, error) {
	ctx, cancel := context.WithTimeout(e.ctx, apiTimeout)
	defer cancel()
	code, _, err := e.c.LeaderOf(ctx, i)
	return code, err
}

// status is node i's /v1/status.
func (e *env) status(i int) (rig.Status, error) {
	ctx, cancel := context.WithTimeout(e.ctx, apiTimeout)
	defer cancel()
	return e.c.StatusOf(ctx, i)
}

// voters reports an error unless node i sees want voters.
func (e *env) voters(i, want int) error {
	st, err := e.status(i)
	if err != nil {
		return err
	}
	if got := st.Voters(); len(got) != want {
		return fmt.Errorf("n%d sees voters %v, want %d", i, got, want)
	}
	return nil
}

// follows reports an error unless node i is a follower of leader that holds
// nothing: no VIP in its kernel and 503 on /v1/leader.
func (e *env) follows(i, leader int, addrs ...netip.Addr) error {
	st, err := e.status(i)
	if err != nil {
		return err
	}
	if st.State != "Follower" || st.LeaderID != lab.NodeName(leader) {
		return fmt.Errorf("n%d is %s with leader %q, want a follower of n%d", i, st.State, st.LeaderID, leader)
	}
	if err := e.notHolder(i); err != nil {
		return err
	}
	for _, a := range addrs {
		if err := e.holdersAre(a, leader); err != nil {
			return err
		}
	}
	return nil
}

// notHolder reports an error unless node i's /v1/leader answers 503.
func (e *env) notHolder(i int) error {
	if code, err := e.leaderCode(i); err != nil || code != http.StatusServiceUnavailable {
		return fmt.Errorf("n%d: /v1/leader = %d (%v), want 503", i, code, err)
	}
	return nil
}

// vipSet is the VIP set node i reports, sorted.
func (e *env) vipSet(i int) ([]string, error) {
	st, err := e.status(i)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range st.VIPs {
		out = append(out, v.Prefix)
	}
	slices.Sort(out)
	return out, nil
}

// hasVIPs reports an error unless node i's VIP set is exactly want.
func (e *env) hasVIPs(i int, want ...string) error {
	got, err := e.vipSet(i)
	if err != nil {
		return err
	}
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		return fmt.Errorf("n%d's VIP set is %v, want %v", i, got, want)
	}
	return nil
}

// dialFrom connects to addr from namespace ns, within apiTimeout.
func (e *env) dialFrom(ns, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(e.ctx, apiTimeout)
	defer cancel()
	return rig.DialIn(ns)(ctx, "tcp", addr)
}

// answeredBy reports an error unless the client, connecting to addr, is
// answered by node i.
func (e *env) answeredBy(addr netip.Addr, i int) error {
	name, err := lab.AskFrom(e.ctx, e.lab.ClientNS(), lab.Responder(addr), 300*time.Millisecond)
	if err != nil {
		return fmt.Errorf("client to %s: %w", addr, err)
	}
	if name != lab.NodeName(i) {
		return fmt.Errorf("client to %s: answered by %s, want n%d", addr, name, i)
	}
	return nil
}

// neighIs reports an error unless the client's neighbour entry for addr holds
// node i's MAC.
func (e *env) neighIs(addr netip.Addr, i int) error {
	mac, state, err := e.lab.ClientNeigh(addr)
	if err != nil {
		return err
	}
	if !bytes.Equal(mac, e.lab.NodeMAC(i)) {
		return fmt.Errorf("client's neighbour entry for %s is %v (%s), want n%d's %v", addr, mac, state, i, e.lab.NodeMAC(i))
	}
	return nil
}

// probe starts a probe of addr from the client and waits until node i answers
// it. Cleanup stops it if the test does not.
func (e *env) probe(addr netip.Addr, i int) *probe.Probe {
	e.t.Helper()
	p := probe.Start(e.ctx, e.lab, addr, probe.Options{})
	e.t.Cleanup(func() { p.Stop() })
	e.awaitAnswer(p, i)
	return p
}

// awaitAnswer waits until the latest answer p saw came from node i.
func (e *env) awaitAnswer(p *probe.Probe, i int) {
	e.t.Helper()
	e.await(fmt.Sprintf("the client's probe answered by n%d", i), settle, func() error {
		if got := p.LastAnswer(); got != lab.NodeName(i) {
			return fmt.Errorf("last answer from %q", got)
		}
		return nil
	})
}

// steadyFor is how long the client must be served by one node before a test
// stops its probe, so the report covers the time after a takeover too.
const steadyFor = 300 * time.Millisecond

// steady waits until, for steadyFor without a break, node i answered the
// probe's latest dial and a fresh dial to addr, and the client's neighbour
// entry for addr held i's MAC.
func (e *env) steady(p *probe.Probe, addr netip.Addr, i int) {
	e.t.Helper()
	var since time.Time
	e.await(fmt.Sprintf("the client served by n%d for %v", i, steadyFor), settle, func() error {
		err := e.answeredBy(addr, i)
		if err == nil {
			err = e.neighIs(addr, i)
		}
		if got := p.LastAnswer(); err == nil && got != lab.NodeName(i) {
			err = fmt.Errorf("the probe's last answer came from %q", got)
		}
		if err != nil {
			since = time.Time{}
			return err
		}
		if since.IsZero() {
			since = time.Now()
		}
		if time.Since(since) < steadyFor {
			return errors.New("not for long enough yet")
		}
		return nil
	})
}

// stopSteady waits until node i serves the client steadily, then stops p and
// returns its report.
func (e *env) stopSteady(p *probe.Probe, addr netip.Addr, i int) probe.Report {
	e.t.Helper()
	e.steady(p, addr, i)
	return p.Stop()
}

// noDualHolder fails the test unless r never saw two nodes hold its VIP at
// once, from holder samples that were all taken: a failed sample shows no
// holder at all, so a run of them would hide two.
func (e *env) noDualHolder(r probe.Report) {
	e.t.Helper()
	if r.HolderSamples == 0 || r.HolderFailed > 0 {
		first := ""
		for _, s := range r.States {
			if s.Err != "" {
				first = s.Err
				break
			}
		}
		e.t.Errorf("the probe of %s took %d holder samples, %d failed (first: %q): two holders could have gone unseen",
			r.VIP, r.HolderSamples, r.HolderFailed, first)
		return
	}
	if r.DualHolder != 0 {
		e.t.Errorf("two nodes held %s at once for %v (from %v into the probe)", r.VIP, r.DualHolder, r.DualHolderAt)
	}
}

// cli runs the raftvip client against node i and fails the test on error.
func (e *env) cli(i int, args ...string) string {
	e.t.Helper()
	out, err := e.c.CLI(e.ctx, i, args...)
	if err != nil {
		e.t.Fatalf("raftvip %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// exited waits for p to exit and returns its exit code.
func (e *env) exited(p *lab.Proc) int {
	e.t.Helper()
	err := p.Wait(exitWait)
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() < 0 {
		e.t.Fatalf("%s did not exit normally: %v", p.Name(), err)
	}
	return ee.ExitCode()
}

// lastLine is the last non-empty line of node i's log.
func (e *env) lastLine(i int) string {
	e.t.Helper()
	b, err := os.ReadFile(e.lab.LogPath(i))
	if err != nil {
		e.t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return lines[len(lines)-1]
}

func names(nodes []int) string {
	if len(nodes) == 0 {
		return "nobody"
	}
	s := make([]string, len(nodes))
	for i, n := range nodes {
		s[i] = lab.NodeName(n)
	}
	return strings.Join(s, ",")
}

// since is how long ago t was, rounded for logs.
func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// addrOf is the address of a VIP written in CIDR form.
func addrOf(cidr string) netip.Addr { return netip.MustParsePrefix(cidr).Addr() }
