package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"

	"github.com/raftvip/raftvip/internal/health"
	"github.com/raftvip/raftvip/internal/sdnotify"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

var testVIP = netip.MustParsePrefix("192.0.2.100/24")

// journal is one ordered record of what several in-process agents did that
// matters for the order of a handover: binds and unbinds of their kernels,
// and each one's becoming Raft leader. The order of lines is the order in
// which the calls happened.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(line string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, line)
}

// since returns the lines from index from on, and the current length.
func (j *journal) since(from int) []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.lines[min(from, len(j.lines)):])
}

func (j *journal) len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.lines)
}

// journaled is a node's fake kernel that also writes its binds and renewals
// (as "bind", before the call: the address may be in use from then on) and
// unbinds (after it: only then is it gone) to the journal.
type journaled struct {
	*netopstest.Fake
	node string
	j    *journal
	// slow delays each Unbind, as a busy kernel would: the agent must wait
	// for the drop, not race it.
	slow *atomic.Int64
}

func (k journaled) Bind(ctx context.Context, link string, a netops.Addr, validFor time.Duration) error {
	k.j.add(k.node + " bind " + a.Prefix.String())
	return k.Fake.Bind(ctx, link, a, validFor)
}

func (k journaled) Renew(ctx context.Context, link string, a netops.Addr, validFor time.Duration) error {
	k.j.add(k.node + " bind " + a.Prefix.String())
	return k.Fake.Renew(ctx, link, a, validFor)
}

func (k journaled) Unbind(ctx context.Context, link string, f netops.Found) error {
	time.Sleep(time.Duration(k.slow.Load()))
	err := k.Fake.Unbind(ctx, link, f)
	if err == nil {
		k.j.add(k.node + " unbind " + f.Prefix.String())
	}
	return err
}

// leaderLog is a slog handler that writes "<node> leader" to the journal when
// the node's cluster logs that its Raft state became Leader.
type leaderLog struct {
	node string
	j    *journal
}

func (h leaderLog) Enabled(context.Context, slog.Level) bool { return true }
func (h leaderLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h leaderLog) WithGroup(string) slog.Handler            { return h }
func (h leaderLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "raft state" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "state" && fmt.Sprint(a.Value.Any()) == "Leader" {
			h.j.add(h.node + " leader")
		}
		return true
	})
	return nil
}

// node is one agent of a test cluster, with its parts.
type node struct {
	id     string
	cfg    Config
	fake   *netopstest.Fake
	slow   atomic.Int64 // journaled.slow
	trans  *raft.InmemTransport
	agent  *Agent
	cancel context.CancelFunc
	done   chan error
}

// testCluster builds agents that share one LAN ledger (which fails the test
// the instant two of them hold a VIP) and one journal.
type testCluster struct {
	t     *testing.T
	lan   *netopstest.LAN
	j     *journal
	token string
	// notify is the NOTIFY_SOCKET the agents send to; "" for none.
	notify string
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	// Registered first, so it runs last: after every agent has stopped, no
	// goroutine of theirs may remain.
	t.Cleanup(func() { goleak.VerifyNone(t, goleak.IgnoreCurrent()) })
	return newClusterOnly(t)
}

// newParallelCluster is newTestCluster for a test that runs in parallel
// with others. goleak sees every goroutine of the process, so another
// parallel test's agents would count as leaks: such a test goes without that
// check, which the sequential tests keep (they all finish before the first
// parallel test resumes).
func newParallelCluster(t *testing.T) *testCluster {
	t.Helper()
	t.Parallel()
	return newClusterOnly(t)
}

func newClusterOnly(t *testing.T) *testCluster {
	t.Helper()
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCluster{t: t, lan: netopstest.NewLAN(t), j: &journal{}, token: token}
}

// node builds agent number i (1-based) on its parts; edit changes its
// config before New.
func (c *testCluster) node(i int, edit func(*Config)) *node {
	t := c.t
	t.Helper()
	id := fmt.Sprintf("n%d", i)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.ID, cfg.RaftAddr, cfg.HTTPAddr = id, fmt.Sprintf("192.0.2.%d:7000", 10+i), ln.Addr().String()
	cfg.DataDir, cfg.TokenFile, cfg.InsecurePlaintext = t.TempDir(), c.token, true
	cfg.Timing, cfg.Heartbeat, cfg.Election, cfg.LeaderLease = "fast", Duration(50*time.Millisecond),
		Duration(50*time.Millisecond), Duration(25*time.Millisecond)
	cfg.VIPs, cfg.Interface = List{testVIP.String()}, "eth0"
	if edit != nil {
		edit(&cfg)
	}
	mon, monAddr := loopbackFor(t, cfg.MonitorAddr)
	page, pageAddr := loopbackFor(t, cfg.UIAddr)
	cfg.MonitorAddr, cfg.UIAddr = monAddr, pageAddr
	n := &node{id: id, cfg: cfg, fake: c.lan.Fake(id)}
	n.fake.AddLink("eth0", netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", 10+i)))
	_, n.trans = raft.NewInmemTransport(raft.ServerAddress(cfg.Advertised()))
	kernel := journaled{Fake: n.fake, node: id, j: c.j, slow: &n.slow}
	parts := Parts{
		Binder: kernel, Announcer: kernel,
		Links:         func() ([]string, error) { return []string{"eth0"}, nil },
		RaftTransport: n.trans, RaftInMemory: true,
		API: ln, Monitor: mon, UI: page,
		Notifier: sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": c.notify, "WATCHDOG_USEC": "400000"})),
		Logger:   slog.New(leaderLog{node: id, j: c.j}),
	}
	if n.agent, err = New(cfg, parts); err != nil {
		t.Fatalf("New %s: %v", id, err)
	}
	return n
}

// loopbackFor listens on a loopback port in place of addr, a listener's
// address in a config; nil and "" when addr is "" (the listener is off).
func loopbackFor(t *testing.T, addr string) (net.Listener, string) {
	t.Helper()
	if addr == "" {
		return nil, ""
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, ln.Addr().String()
}

// connect links the nodes' Raft transports, each to each.
func connect(nodes ...*node) {
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
}

// start runs n's agent until stop or the end of the test.
func (n *node) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	go func() { n.done <- n.agent.Run(ctx) }()
	t.Cleanup(func() { n.stop(t) })
}

// stop cancels n's Run and waits for it to return.
func (n *node) stop(t *testing.T) error {
	t.Helper()
	n.cancel()
	select {
	case err, ok := <-n.done:
		if ok {
			close(n.done)
		}
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: Run did not return after its context was cancelled", n.id)
		return nil
	}
}

func ready(t *testing.T, n *node) {
	t.Helper()
	select {
	case <-n.agent.Ready():
	case err := <-n.done:
		t.Fatalf("%s stopped before it was ready: %v", n.id, err)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s not ready", n.id)
	}
}

func voters(n *node) int {
	count := 0
	for _, m := range n.agent.node.Status().Members {
		if m.Suffrage == "voter" {
			count++
		}
	}
	return count
}

func holders(lan *netopstest.LAN) string {
	return strings.Join(lan.Holders(testVIP.Addr()), ",")
}

// three starts three agents: the first bootstraps, the others join through
// the real join loop and the API over loopback. It returns once all three
// are voters and exactly the first holds the VIP. edit, if not nil, changes
// each one's config.
func (c *testCluster) three(t *testing.T, edit func(*Config)) (n1, n2, n3 *node) {
	t.Helper()
	if edit == nil {
		edit = func(*Config) {}
	}
	n1 = c.node(1, func(cfg *Config) { cfg.Bootstrap = true; edit(cfg) })
	join := func(cfg *Config) { cfg.Join = List{n1.cfg.HTTPAddr}; edit(cfg) }
	n2, n3 = c.node(2, join), c.node(3, join)
	connect(n1, n2, n3)
	for _, n := range []*node{n1, n2, n3} {
		n.start(t)
	}
	for _, n := range []*node{n1, n2, n3} {
		ready(t, n)
	}
	testutil.Eventually(t, testutil.WaitLimit, "3 voters", func() bool { return voters(n1) == 3 })
	testutil.Eventually(t, testutil.WaitLimit, "n1 alone to hold the VIP", func() bool { return holders(c.lan) == "n1" })
	return n1, n2, n3
}

// inOrder fails t unless each of want is in the journal from index from on,
// the first occurrence of each after the first occurrence of the one before.
func (j *journal) inOrder(t *testing.T, from int, want ...string) {
	t.Helper()
	lines, at := j.since(from), -1
	for _, w := range want {
		i := slices.Index(lines, w)
		if i <= at {
			t.Fatalf("want %q in this order; journal:\n%s", want, strings.Join(lines, "\n"))
		}
		at = i
	}
}

// TestGracefulStopDropsThenHandsOver starts three agents in one process: the
// first bootstraps, the others join through the real join loop and the API
// over loopback. Exactly one holds the VIP. Then the leader is stopped as
// SIGTERM would stop it: it drops the VIP before leadership moves, and a
// follower takes the VIP over, with never two holders.
func TestGracefulStopDropsThenHandsOver(t *testing.T) {
	c := newTestCluster(t)
	n1, _, _ := c.three(t, nil)

	// A drop that takes longer than an election: an agent that handed
	// leadership over before the drop completed would have a follower bind
	// the VIP while n1 still holds it.
	n1.slow.Store(int64(300 * time.Millisecond))
	mark := c.j.len()
	if err := n1.stop(t); err != nil {
		t.Fatalf("n1's Run after a graceful stop: %v", err)
	}
	if b := n1.fake.Bound(); len(b) != 0 {
		t.Fatalf("the stopped leader still holds %v", b)
	}
	var next string
	testutil.Eventually(t, testutil.WaitLimit, "a follower to hold the VIP", func() bool {
		next = holders(c.lan)
		return next == "n2" || next == "n3"
	})
	c.j.inOrder(t, mark, "n1 unbind "+testVIP.String(), next+" leader", next+" bind "+testVIP.String())
	if v := c.lan.Violations(); len(v) > 0 {
		t.Fatalf("two holders: %v", v)
	}
}

// flaky answers 503 to the first fails requests and hands the rest to the
// API at addr, as a member that is not ready yet would.
func flaky(t *testing.T, fails int32, addr string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var seen atomic.Int32
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) <= fails || addr == "" {
			http.Error(w, `{"error":"not ready"}`, http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// TestJoinRetriesThenGivesUp: the join loop retries a member that refuses
// until it accepts, and a node that no member accepts gives up after
// -join-timeout with an error naming it, and stops.
func TestJoinRetriesThenGivesUp(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.node(1, func(cfg *Config) { cfg.Bootstrap = true })
	n1.start(t)
	ready(t, n1)

	front, seen := flaky(t, 2, n1.cfg.HTTPAddr)
	n2 := c.node(2, func(cfg *Config) { cfg.Join = List{front.Listener.Addr().String()} })
	connect(n1, n2)
	n2.start(t)
	ready(t, n2)
	if s := seen.Load(); s < 3 {
		t.Fatalf("joined after %d requests, want 2 refused and a third accepted", s)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n2 to be a voter", func() bool { return voters(n1) == 2 })

	never, _ := flaky(t, 0, "")
	n3 := c.node(3, func(cfg *Config) {
		cfg.Join, cfg.JoinTimeout = List{never.Listener.Addr().String()}, Duration(time.Second)
	})
	n3.start(t)
	var err error
	select {
	case err = <-n3.done:
		close(n3.done)
	case <-time.After(30 * time.Second):
		t.Fatal("n3 did not give up joining")
	}
	if err == nil || !strings.Contains(err.Error(), "no member accepted the join within 1s (-join-timeout)") ||
		!strings.Contains(err.Error(), never.Listener.Addr().String()) {
		t.Fatalf("Run = %v, want the join timeout named with the member tried", err)
	}
	if voters(n1) != 2 {
		t.Fatalf("the cluster has %d voters after a failed join, want 2", voters(n1))
	}
}

// running returns the stacks of goroutines that run, or were started by, code
// of this module, apart from the test's own.
func running() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/raftvip/raftvip/") && !strings.Contains(g, "testing.tRunner") &&
			!strings.Contains(g, "agent.(*node).start") {
			out = append(out, g)
		}
	}
	return out
}

// TestRunLeavesNoGoroutine: the moment Run returns, no goroutine the agent
// started (reconciler, cluster, API, monitor and status page servers, checks, hooks,
// systemd loops) is still there; goleak, after the other tests, allows
// them no grace either, but retries for a while.
//
// Most of them end within microseconds of their cancel, so Run could return
// without waiting for them and still pass. The check here cannot: its probe
// is under way at shutdown and its script left a process holding its output,
// so the probe ends only shell.Run's WaitDelay (1 s) after it is killed.
func TestRunLeavesNoGoroutine(t *testing.T) {
	c := newTestCluster(t)
	if g := running(); len(g) > 0 {
		t.Fatalf("goroutines before the test:\n%s", strings.Join(g, "\n\n"))
	}
	sock := newNotifySocket(t)
	c.notify = sock.path
	held := heldOutputCheck(t)
	n := c.node(1, func(cfg *Config) {
		cfg.Bootstrap, cfg.MonitorAddr, cfg.UIAddr = true, "127.0.0.1:1", "127.0.0.1:2"
		cfg.Checks = []health.Check{held.check}
	})
	n.start(t)
	ready(t, n)
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIP", func() bool { return holders(c.lan) == "n1" })
	if v := pageStatus(t, n, ""); v.Holder != "n1" {
		t.Fatalf("the status page says %+v, want n1 holding", v)
	}
	sock.waitFor(t, "WATCHDOG=1\n")
	held.waitStarted(t)
	if err := n.stop(t); err != nil {
		t.Fatal(err)
	}
	if g := running(); len(g) > 0 {
		t.Fatalf("%d goroutines outlived Run:\n%s", len(g), strings.Join(g, "\n\n"))
	}
}

// heldOutput is a health check whose probe never ends by itself and whose
// script first starts a process in a session of its own, out of reach of the
// kill of the probe's process group, that holds the probe's output open, as a
// check starting a helper daemon would.
type heldOutput struct {
	check   health.Check
	pidFile string
}

func heldOutputCheck(t *testing.T) heldOutput {
	t.Helper()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Fatalf("this test needs setsid (util-linux): %v", err)
	}
	pidFile := filepath.Join(t.TempDir(), "holder.pid")
	// The holder writes its own PID (sh -c's $$, then exec), so that the
	// cleanup kills exactly it; sleep 60 bounds its life if the test dies.
	script := fmt.Sprintf("setsid sh -c 'echo $$ >%q; exec sleep 60' & exec sleep 600", pidFile)
	t.Cleanup(func() {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return heldOutput{
		check:   health.Check{Name: "held-output", Exec: script, Interval: 10 * time.Minute, Timeout: 10 * time.Minute},
		pidFile: pidFile,
	}
}

// waitStarted returns once the holder runs, so that the probe is under way.
func (h heldOutput) waitStarted(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, testutil.WaitLimit, "the check's holder process to start", func() bool {
		b, err := os.ReadFile(h.pidFile)
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
}

// TestBackupHookAtStart: a node that starts and follows fires the backup
// hook once, as keepalived runs notify_backup on entering BACKUP; the node
// that leads fires master first.
func TestBackupHookAtStart(t *testing.T) {
	events := filepath.Join(t.TempDir(), "events")
	hook := "echo \"$RAFTVIP_NODE $RAFTVIP_EVENT\" >> " + events
	hooks := func(cfg *Config) { cfg.NotifyMaster, cfg.NotifyBackup = hook, hook }
	c := newTestCluster(t)
	n1 := c.node(1, func(cfg *Config) { cfg.Bootstrap = true; hooks(cfg) })
	n2 := c.node(2, func(cfg *Config) { cfg.Join = List{n1.cfg.HTTPAddr}; hooks(cfg) })
	connect(n1, n2)
	n1.start(t)
	ready(t, n1)
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIP", func() bool { return holders(c.lan) == "n1" })
	n2.start(t)
	ready(t, n2)
	read := func() []string {
		b, _ := os.ReadFile(events)
		return strings.Fields(strings.ReplaceAll(string(b), " ", "_"))
	}
	testutil.Eventually(t, testutil.WaitLimit, "n2's backup hook", func() bool { return slices.Contains(read(), "n2_backup") })
	// Stopping waits for the queued hooks; a follower's stop fires none.
	if err := n2.stop(t); err != nil {
		t.Fatal(err)
	}
	got := read()
	if n := strings.Count(strings.Join(got, " "), "n2_"); n != 1 {
		t.Errorf("n2 fired %d hooks, want the backup hook once: %v", n, got)
	}
	// The two nodes' hooks run in processes of their own: only each node's
	// own order is defined.
	var n1Events []string
	for _, e := range got {
		if strings.HasPrefix(e, "n1_") {
			n1Events = append(n1Events, e)
		}
	}
	if len(n1Events) == 0 || n1Events[0] != "n1_master" {
		t.Errorf("events %v, want n1's master hook first and no backup hook of n1 before it", got)
	}
}
