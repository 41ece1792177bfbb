package lab_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// settle bounds every wait for the lab to reach a state; the waits poll, so a
// healthy lab passes in milliseconds.
const settle = 10 * time.Second

// askTimeout bounds one TCP exchange in these checks.
const askTimeout = 300 * time.Millisecond

// reaches waits until, from namespace ns, node `to`'s responder answers with
// its name.
func reaches(t *testing.T, l *lab.Lab, ns string, to int) {
	t.Helper()
	var last error
	err := probe.WaitFor(t.Context(), func() bool {
		var name string
		name, last = lab.AskFrom(t.Context(), ns, lab.Responder(l.NodeIP(to)), askTimeout)
		if last == nil && name != lab.NodeName(to) {
			last = fmt.Errorf("answered by %q", name)
		}
		return last == nil
	}, settle)
	if err != nil {
		t.Fatalf("%s cannot reach n%d: %v (last: %v)", ns, to, err, last)
	}
}

// cutOff waits until, from namespace ns, node `to` no longer answers.
func cutOff(t *testing.T, l *lab.Lab, ns string, to int) {
	t.Helper()
	err := probe.WaitFor(t.Context(), func() bool {
		_, err := lab.AskFrom(t.Context(), ns, lab.Responder(l.NodeIP(to)), askTimeout)
		return err != nil
	}, settle)
	if err != nil {
		t.Fatalf("%s still reaches n%d: %v", ns, to, err)
	}
}

func TestLab(t *testing.T) {
	l := lab.ForTest(t, lab.Options{})
	ctx := t.Context()
	if err := l.StartResponders(ctx); err != nil {
		t.Fatal(err)
	}
	client := l.ClientNS()

	t.Run("client reaches every node, IPv4 and IPv6", func(t *testing.T) {
		for i := 1; i <= 3; i++ {
			reaches(t, l, client, i)
		}
		name, err := lab.AskFrom(ctx, client, lab.Responder(l.NodeIP6(1)), time.Second)
		if err != nil || name != "n1" {
			t.Fatalf("client → [%s]:8000 = %q, %v; want n1", l.NodeIP6(1), name, err)
		}
	})

	t.Run("host down and up", func(t *testing.T) {
		if err := l.HostDown(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cutOff(t, l, client, 1)
		reaches(t, l, client, 2)
		if err := l.HostUp(ctx, 1); err != nil {
			t.Fatal(err)
		}
		reaches(t, l, client, 1)
	})

	t.Run("partition and heal", func(t *testing.T) {
		if err := l.Partition(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cutOff(t, l, l.NodeNS(1), 2)
		cutOff(t, l, l.NodeNS(2), 1)
		reaches(t, l, l.NodeNS(2), 3)
		reaches(t, l, client, 1)
		// n1 → client: nothing listens there, so a refusal (an RST back) is
		// the proof that frames pass both ways.
		_, err := lab.AskFrom(ctx, l.NodeNS(1), lab.Responder(l.ClientIP()), time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("n1 → client: %v, want connection refused (reachable, nothing listening)", err)
		}
		if err := l.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		reaches(t, l, l.NodeNS(1), 2)
		reaches(t, l, l.NodeNS(2), 1)
	})

	t.Run("one-way block, loss, and lifting one fault of several", func(t *testing.T) {
		if err := l.Block(ctx, "oneway", []int{1}, []int{2}); err != nil {
			t.Fatal(err)
		}
		if err := l.Loss(ctx, "loss", []int{3}, 100); err != nil {
			t.Fatal(err)
		}
		cutOff(t, l, l.NodeNS(1), 2) // TCP needs both directions
		cutOff(t, l, client, 3)
		reaches(t, l, client, 1)
		reaches(t, l, l.NodeNS(2), 2)
		if err := l.Unblock(ctx, "loss"); err != nil {
			t.Fatal(err)
		}
		reaches(t, l, client, 3)
		cutOff(t, l, l.NodeNS(1), 2) // the other fault stays
		if err := l.Split(ctx, "split", []int{3}, []int{1, 2}); err != nil {
			t.Fatal(err)
		}
		cutOff(t, l, l.NodeNS(3), 1)
		reaches(t, l, client, 3)
		if err := l.Heal(ctx); err != nil {
			t.Fatal(err)
		}
		reaches(t, l, l.NodeNS(1), 2)
		reaches(t, l, l.NodeNS(3), 1)
		addrs, err := l.Addrs(1)
		if err != nil || !slices.Contains(addrs, l.NodeIP(1)) || !slices.Contains(addrs, l.NodeIP6(1)) {
			t.Errorf("Addrs(1) = %v, %v; want n1's own addresses among them", addrs, err)
		}
	})

	t.Run("add node", func(t *testing.T) {
		i, err := l.AddNode(ctx)
		if err != nil || i != 4 {
			t.Fatalf("AddNode = %d, %v; want 4", i, err)
		}
		reaches(t, l, client, 4)
		reaches(t, l, l.NodeNS(4), 1)
	})

	t.Run("process signals", func(t *testing.T) { testProc(t, l) })

	t.Run("close removes everything", func(t *testing.T) {
		sleeper, err := l.Start(ctx, 2, []string{"sleep", "300"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A daemon's child, like keepalived's VRRP process, must die too.
		childFile := filepath.Join(l.Dir(), "child.pid")
		if _, err := l.Start(ctx, 1, []string{"sh", "-c", `sleep 300 & echo $! >` + childFile + `; wait`}, nil); err != nil {
			t.Fatal(err)
		}
		var child int
		err = probe.WaitFor(ctx, func() bool {
			b, _ := os.ReadFile(childFile)
			child, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return child > 0
		}, settle)
		if err != nil {
			t.Fatalf("the child never wrote its PID to %s: %v", childFile, err)
		}
		procs := l.Procs()
		// A namespace of a host whose setup failed half-way: the lab has no
		// node for it, and must remove it all the same.
		if out, err := exec.CommandContext(ctx, "ip", "netns", "add", l.Prefix()+"n9").CombinedOutput(); err != nil {
			t.Fatalf("ip netns add: %v: %s", err, out)
		}
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if left, err := lab.ListNetns(ctx, l.Prefix()); err != nil || len(left) > 0 {
			t.Errorf("namespaces left with prefix %s: %v (%v)", l.Prefix(), left, err)
		}
		for _, p := range procs {
			if p.Running() {
				t.Errorf("%s (pid %d) still running after Close", p.Name(), p.PID())
			}
		}
		if err := probe.WaitFor(ctx, func() bool { return gone(child) }, settle); err != nil {
			t.Errorf("the child (pid %d) of a lab process still running after Close: %v", child, err)
		}
		if err := sleeper.Signal(syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("signal after Close: %v, want os.ErrProcessDone", err)
		}
		if err := l.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// TestSevenNodes: a lab of seven nodes gives each its own name, address and
// MAC, none of them among the spare addresses a bench binds VIPs on, and the
// client reaches every one.
func TestSevenNodes(t *testing.T) {
	const nodes = 7
	l := lab.ForTest(t, lab.Options{Nodes: nodes})
	if err := l.StartResponders(t.Context()); err != nil {
		t.Fatal(err)
	}
	spare := lab.SpareIPv4()
	if slices.Contains(spare, l.ClientIP()) {
		t.Errorf("the client's %s is among the spare addresses", l.ClientIP())
	}
	macs, names := map[string]bool{}, map[string]bool{}
	for i := 1; i <= nodes; i++ {
		if want := netip.MustParseAddr(fmt.Sprintf("192.0.2.1%d", i)); l.NodeIP(i) != want {
			t.Errorf("NodeIP(%d) = %s, want %s", i, l.NodeIP(i), want)
		}
		if slices.Contains(spare, l.NodeIP(i)) {
			t.Errorf("n%d's %s is among the spare addresses", i, l.NodeIP(i))
		}
		macs[l.NodeMAC(i).String()] = true
		names[l.NodeNS(i)] = true
		reaches(t, l, l.ClientNS(), i)
	}
	if len(macs) != nodes || len(names) != nodes {
		t.Errorf("%d nodes have %d distinct MACs and %d namespaces: %v %v", nodes, len(macs), len(names), macs, names)
	}
}

// TestSpareIPv4: the spare addresses are the LAN's host addresses that no
// lab host, router or uplink takes, ascending.
func TestSpareIPv4(t *testing.T) {
	spare := lab.SpareIPv4()
	taken := []string{"192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.11", "192.0.2.49", "192.0.2.50", "192.0.2.66", "192.0.2.255"}
	for _, a := range taken {
		if slices.Contains(spare, netip.MustParseAddr(a)) {
			t.Errorf("%s is among the spare addresses", a)
		}
	}
	for _, a := range []string{"192.0.2.3", "192.0.2.10", "192.0.2.51", "192.0.2.65", "192.0.2.67", "192.0.2.100", "192.0.2.254"} {
		if !slices.Contains(spare, netip.MustParseAddr(a)) {
			t.Errorf("%s is not among the spare addresses", a)
		}
	}
	// 254 host addresses less .1, .2, the nodes' .11-.49, the client and the intruder.
	if want := 254 - 2 - lab.MaxNodes - 2; len(spare) != want {
		t.Errorf("%d spare addresses, want %d", len(spare), want)
	}
	if !slices.IsSortedFunc(spare, netip.Addr.Compare) {
		t.Errorf("spare addresses not ascending: %v", spare)
	}
}

// TestIntruder: a lab built with an intruder has one more host on the LAN,
// with its own addresses, which reaches the nodes over IPv4 and IPv6 and is
// reached by them; Close removes its namespace with the others.
func TestIntruder(t *testing.T) {
	l := lab.ForTest(t, lab.Options{Nodes: 2, Intruder: true})
	ctx := t.Context()
	if err := l.StartResponders(ctx); err != nil {
		t.Fatal(err)
	}
	in := l.IntruderNS()
	if !strings.HasPrefix(in, l.Prefix()) || in == l.ClientNS() {
		t.Fatalf("intruder namespace %q: want the lab prefix %s and not the client's", in, l.Prefix())
	}
	for i := 1; i <= 2; i++ {
		reaches(t, l, in, i)
	}
	name, err := lab.AskFrom(ctx, in, lab.Responder(l.NodeIP6(2)), time.Second)
	if err != nil || name != "n2" {
		t.Fatalf("intruder → [%s]:8000 = %q, %v; want n2", l.NodeIP6(2), name, err)
	}
	// Nothing listens on the intruder: a refusal proves its addresses are its
	// own and that frames pass both ways.
	for _, ip := range []netip.Addr{l.IntruderIP(), l.IntruderIP6()} {
		_, err := lab.AskFrom(ctx, l.NodeNS(1), lab.Responder(ip), time.Second)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("n1 → intruder %s: %v, want connection refused (reachable, nothing listening)", ip, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left, err := lab.ListNetns(ctx, l.Prefix()); err != nil || len(left) > 0 {
		t.Errorf("namespaces left with prefix %s: %v (%v)", l.Prefix(), left, err)
	}
}

// testProc checks that a started program runs in the node's namespace under
// its own PID (ip netns exec execs in place) and that signals reach it.
func testProc(t *testing.T, l *lab.Lab) {
	p, err := l.Start(t.Context(), 3, []string{"sleep", "300"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	proc := fmt.Sprintf("/proc/%d/", p.PID())
	err = probe.WaitFor(t.Context(), func() bool {
		comm, _ := os.ReadFile(proc + "comm")
		return strings.TrimSpace(string(comm)) == "sleep"
	}, settle)
	if err != nil {
		t.Fatalf("pid %d never became sleep: %v", p.PID(), err)
	}
	assertSameNetns(t, proc+"ns/net", "/run/netns/"+l.NodeNS(3))

	procState := func() string {
		stat, _ := os.ReadFile(proc + "stat")
		// "pid (comm) S ...": the state follows the closing parenthesis.
		if _, after, ok := strings.Cut(string(stat), ") "); ok {
			return after[:1]
		}
		return ""
	}
	for _, step := range []struct {
		sig  syscall.Signal
		want string
	}{{syscall.SIGSTOP, "T"}, {syscall.SIGCONT, "S"}} {
		if err := p.Signal(step.sig); err != nil {
			t.Fatal(err)
		}
		if err := probe.WaitFor(t.Context(), func() bool { return procState() == step.want }, settle); err != nil {
			t.Fatalf("after %v state %q, want %q", step.sig, procState(), step.want)
		}
	}
	if !p.Running() {
		t.Fatal("Running() = false for a live process")
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var exit interface{ ExitCode() int }
	if err := p.Wait(settle); !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("Wait after SIGTERM = %v, want killed by signal", err)
	}
	if p.Running() {
		t.Fatal("Running() = true after exit")
	}
}

func assertSameNetns(t *testing.T, a, b string) {
	t.Helper()
	var sa, sb syscall.Stat_t
	if err := syscall.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	if sa.Ino != sb.Ino || sa.Dev != sb.Dev {
		t.Fatalf("%s is not the namespace %s", a, b)
	}
}

// helperEnv makes this test binary, started by TestSignalCleanup, build a lab
// and wait to be signalled.
const helperEnv = "RAFTVIP_LAB_SIGNAL_HELPER"

// TestSignalCleanup checks that SIGTERM or SIGINT to a process holding a lab
// removes the lab before the process ends (which still dies of the signal),
// and that after a SIGKILL, which allows no cleanup, the lab's processes die
// with it (Pdeathsig), and the next lab built removes its namespaces and its
// log directory.
func TestSignalCleanup(t *testing.T) {
	lab.RequireRoot(t)
	if os.Getenv(helperEnv) == "1" {
		signalHelper(t)
		return
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, prefix, dir, pids := startHelper(t)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("helper ended with %v, want killed by %v", err, sig)
			}
			for _, pid := range pids {
				if err := probe.WaitFor(t.Context(), func() bool { return gone(pid) }, settle); err != nil {
					t.Errorf("lab process %d still alive after %v: %v", pid, sig, err)
				}
			}
			if sig == syscall.SIGKILL {
				// Nothing could clean up; the next lab built removes the
				// namespaces of the killed one.
				if left, err := lab.ListNetns(t.Context(), prefix); err != nil || len(left) == 0 {
					t.Fatalf("no namespaces left after SIGKILL (%v, %v): the sweep below would prove nothing", left, err)
				}
				if _, err := os.Stat(dir); err != nil {
					t.Fatalf("no log directory left after SIGKILL (%v): the sweep below would prove nothing", err)
				}
				lab.ForTest(t, lab.Options{Nodes: 1})
				if left, err := lab.ListNetns(t.Context(), prefix); err != nil || len(left) > 0 {
					t.Errorf("namespaces of the killed lab still there after a new lab was built: %v (%v)", left, err)
				}
				if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("log directory of the killed lab: %v, want it removed", err)
				}
				return
			}
			if left, err := lab.ListNetns(t.Context(), prefix); err != nil || len(left) > 0 {
				t.Errorf("namespaces left after %v: %v (%v)", sig, left, err)
			}
		})
	}
}

// startHelper runs this test binary as a helper that builds a lab, and returns
// the lab's prefix, log directory and process IDs once it is up.
func startHelper(t *testing.T) (*exec.Cmd, string, string, []int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSignalCleanup$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "lab" {
			continue
		}
		t.Cleanup(func() { removeLeftovers(t, f[1], f[2]) })
		go io.Copy(io.Discard, out) // until the helper exits
		var pids []int
		for _, s := range f[3:] {
			pid, _ := strconv.Atoi(s)
			pids = append(pids, pid)
		}
		return cmd, f[1], f[2], pids
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Fatalf("helper printed no lab line: %v", sc.Err())
	return nil, "", "", nil
}

// gone reports whether pid has exited (absent, or a zombie not reaped yet).
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z") || strings.HasPrefix(after, "X")
}

func signalHelper(t *testing.T) {
	l, err := lab.New(t.Context(), lab.Options{Nodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Only a helper that fails before its signal gets here.
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	if err := l.StartResponders(t.Context()); err != nil {
		t.Fatal(err)
	}
	line := []string{"lab", l.Prefix(), l.Dir()}
	for _, p := range l.Procs() {
		line = append(line, strconv.Itoa(p.PID()))
	}
	fmt.Println(strings.Join(line, " "))
	<-t.Context().Done() // never: the signal ends the process
}

// removeLeftovers deletes the namespaces and the log directory a lab left
// behind (after SIGKILL, or a failed cleanup), so no run leaks into the machine.
func removeLeftovers(t *testing.T, prefix, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		t.Error(err)
	}
	left, err := lab.ListNetns(context.Background(), prefix)
	if err != nil {
		t.Error(err)
	}
	for _, ns := range left {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	}
}
