package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// testTiming is fast enough for tests and still passes Validate:
// 25 ms lease + 12.5 ms margin <= 50 ms heartbeat.
func testTiming() Timing {
	return Timing{Heartbeat: 50 * time.Millisecond, Election: 50 * time.Millisecond, LeaderLease: 25 * time.Millisecond}
}

// syncBuffer collects a test's logs; they are printed only if it fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger returns a logger whose output is shown only when t fails. The
// cleanup is registered first, so it runs after every node has shut down.
func testLogger(t *testing.T) (*slog.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo})), buf
}

// waitHandoverPasses waits until n's handover loop has made k more
// evaluations: k decisions, whatever the machine's speed.
func (n *testNode) waitHandoverPasses(t *testing.T, k uint64) {
	t.Helper()
	from := n.handoverPasses.Load()
	testutil.Eventually(t, testutil.WaitLimit, fmt.Sprintf("%d handover passes on %s", k, n.id),
		func() bool { return n.handoverPasses.Load() >= from+k })
}

func vip(s string) fsm.VIP { return fsm.VIP{Prefix: netip.MustParsePrefix(s)} }

// testNode is a Node on an in-memory transport, with Run going.
type testNode struct {
	*Node
	id    string
	addr  raft.ServerAddress
	trans *raft.InmemTransport
	stop  func()
}

type testCluster struct {
	t     *testing.T
	log   *slog.Logger
	logs  *syncBuffer
	mu    sync.Mutex // guards nodes against the probes of a join under way
	nodes []*testNode
	// unreachable are Raft addresses the fake dialer refuses.
	unreachable map[string]bool
	// dials counts the calls of dial.
	dials int
	// lan, if set, is the ledger of the nodes' fake kernels, by node ID in
	// fakes (newLedgerCluster).
	lan   *netopstest.LAN
	fakes map[string]*netopstest.Fake
}

// dial is Config.DialRaft on the in-memory transport: an address the test
// marked unreachable refuses, any other answers.
func (c *testCluster) dial(_ context.Context, addr string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dials++
	if c.unreachable[addr] {
		return fmt.Errorf("dial tcp %s: connect: no route to host", addr)
	}
	return nil
}

// probe is Config.ProbeJoiner: the status of the running node whose API
// address is apiAddr.
func (c *testCluster) probe(_ context.Context, apiAddr string) (Status, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.nodes) - 1; i >= 0; i-- {
		if n := c.nodes[i]; n.cfg.APIAddr == apiAddr && n.raft.State() != raft.Shutdown {
			return n.Status(), nil
		}
	}
	return Status{}, fmt.Errorf("dial tcp %s: connection refused", apiAddr)
}

func newTestCluster(t *testing.T) *testCluster {
	log, buf := testLogger(t)
	return &testCluster{t: t, log: log, logs: buf, unreachable: map[string]bool{}}
}

// start opens node id in memory on a fresh in-memory transport connected to
// every other node, and runs it until the test ends.
func (c *testCluster) start(id string, mod func(*Config)) *testNode {
	c.t.Helper()
	addr, trans := raft.NewInmemTransport("")
	cfg := Config{ID: id, APIAddr: "api-" + id, Timing: testTiming(), Logger: c.log.With("node", id),
		Transport: trans, InMemory: true, DialRaft: c.dial, ProbeJoiner: c.probe}
	if mod != nil {
		mod(&cfg)
	}
	var startRec func(*Node)
	if c.lan != nil {
		startRec = c.withReconciler(id, &cfg)
	}
	n, err := Open(cfg)
	if err != nil {
		c.t.Fatalf("open %s: %v", id, err)
	}
	tn := &testNode{Node: n, id: id, addr: addr, trans: trans, stop: c.run(id, n)}
	if startRec != nil {
		startRec(n)
	}
	for _, o := range c.nodes {
		o.trans.Connect(addr, trans)
		trans.Connect(o.addr, o.trans)
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, tn)
	c.mu.Unlock()
	return tn
}

// run runs n until the test ends or the returned stop is called, which shuts
// n down and waits for Run to return.
func (c *testCluster) run(id string, n *Node) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.Run(ctx); err != nil {
			c.t.Errorf("run %s: %v", id, err)
		}
	}()
	stop = sync.OnceFunc(func() {
		if err := n.Shutdown(context.Background()); err != nil {
			c.t.Errorf("shutdown %s: %v", id, err)
		}
		cancel()
		<-done
	})
	c.t.Cleanup(stop)
	return stop
}

// newCluster bootstraps n1 and joins the others through it.
func newCluster(t *testing.T, size int) *testCluster {
	t.Helper()
	return newClusterWith(t, size, nil)
}

// newClusterWith is newCluster with mod applied to each node's config.
func newClusterWith(t *testing.T, size int, mod func(*Config)) *testCluster {
	t.Helper()
	c := newTestCluster(t)
	c.form(size, mod)
	return c
}

// form bootstraps n1 and joins the others through it, with mod applied to
// each node's config.
func (c *testCluster) form(size int, mod func(*Config)) {
	t := c.t
	t.Helper()
	first := c.start("n1", mod)
	if err := first.Bootstrap(); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIPs", func() bool { return first.Status().Holder })
	for i := 2; i <= size; i++ {
		n := c.start(fmt.Sprintf("n%d", i), mod)
		if err := c.onLeader(func(l *testNode) error {
			return l.Join(context.Background(), n.id, string(n.addr), "api-"+n.id)
		}); err != nil {
			t.Fatalf("join %s: %v", n.id, err)
		}
	}
	testutil.Eventually(t, testutil.WaitLimit, "every node to see every member and the owner", func() bool {
		for _, n := range c.nodes {
			st := n.Status()
			if len(st.Members) != size || st.Owner.Node == "" || len(n.fsm.State().Members) != size {
				return false
			}
		}
		return true
	})
}

// onLeader runs op on the node that leads now, again on the next leader for
// as long as it fails with ErrNotLeader. With the tests' short leader lease,
// a machine that stalls the process for a few tens of milliseconds makes the
// leader step down, so a test must not assume that the leader it saw a moment
// ago still leads; op must be safe to repeat (Join, Leave and Apply of an
// idempotent command are).
func (c *testCluster) onLeader(op func(*testNode) error) error {
	c.t.Helper()
	var err error
	testutil.Eventually(c.t, testutil.WaitLimit, "an operation to succeed on the leader", func() bool {
		for _, n := range c.nodes {
			if n.raft.State() == raft.Leader {
				err = op(n)
				return !errors.Is(err, ErrNotLeader)
			}
		}
		return false
	})
	return err
}

// holders returns the IDs of the nodes that hold the VIPs right now.
func (c *testCluster) holders() []string {
	var out []string
	for _, n := range c.nodes {
		st, leader, term := n.View()
		if st.HeldBy(n.id, leader, term) {
			out = append(out, n.id)
		}
	}
	return out
}

// holder waits until exactly one node holds the VIPs and returns it.
func (c *testCluster) holder() *testNode {
	c.t.Helper()
	var h []string
	testutil.Eventually(c.t, testutil.WaitLimit, "exactly one holder", func() bool {
		h = c.holders()
		return len(h) == 1
	})
	return c.node(h[0])
}

// otherTwo returns the two nodes of a three-node cluster other than n, in
// the order they were started.
func (c *testCluster) otherTwo(n *testNode) (a, b *testNode) {
	for _, o := range c.nodes {
		switch {
		case o == n:
		case a == nil:
			a = o
		default:
			b = o
		}
	}
	return a, b
}

func (c *testCluster) node(id string) *testNode {
	for _, n := range c.nodes {
		if n.id == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

// isolate cuts n off from every other node, both ways.
func (c *testCluster) isolate(n *testNode) {
	n.trans.DisconnectAll()
	for _, o := range c.nodes {
		if o != n {
			o.trans.Disconnect(n.addr)
		}
	}
}

// heal reconnects n to every other node.
func (c *testCluster) heal(n *testNode) {
	for _, o := range c.nodes {
		if o != n {
			o.trans.Connect(n.addr, n.trans)
			n.trans.Connect(o.addr, o.trans)
		}
	}
}

// recorder samples every node's View about every millisecond, recording who
// holds the VIPs in each pass, until stopped. Sampling can miss an overlap
// shorter than a pass: tests whose claim is "never two holders" use the LAN
// ledger instead (newLedgerCluster here, and internal/agent's TestSafety*
// on whole agents). The witness test keeps it as a second look beside its
// exact check, the ownership watch.
type recorder struct {
	stop chan struct{}
	done chan struct{}
	rows [][]string
}

func (c *testCluster) record() *recorder {
	r := &recorder{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			r.rows = append(r.rows, c.holders())
			select {
			case <-r.stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	return r
}

// finish stops the recorder and fails t if any pass saw two holders.
func (r *recorder) finish(t *testing.T) [][]string {
	t.Helper()
	close(r.stop)
	<-r.done
	for i, row := range r.rows {
		if len(row) > 1 {
			t.Fatalf("sample %d of %d: %v hold the VIPs at once", i, len(r.rows), row)
		}
	}
	return r.rows
}
