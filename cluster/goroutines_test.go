package cluster

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, raftLingers...) }

// raftLingers are the goroutines hashicorp/raft (v1.7.3) starts without
// waiting for them at Shutdown: a leadership transfer runs in two plain
// goroutines, one of which sends TimeoutNow to the target and waits for the
// answer. If the target stops before it answers, that RPC waits out the
// transport's timeout (InmemTransport: 5 s; our TCP stream closes its
// connections at Shutdown, which ends it at once), and the watcher waits for
// it. They end by themselves, after the test has moved on.
var raftLingers = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/hashicorp/raft.(*Raft).leadershipTransfer"),
	goleak.IgnoreTopFunction("github.com/hashicorp/raft.(*Raft).leaderLoop.func2"),
}

// TestShutdownLeavesNoGoroutines stops nodes in the middle of everything that
// starts goroutines: a health report stuck in Config.Report, an Apply whose
// caller gave up while raft still holds it, an establishment with its lease
// keeper, a TCP transport with a peer connected. Once Shutdown and Run have
// returned, no goroutine of the node or of raft may remain. It must not run
// in parallel: goleak sees every goroutine of the process.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	reporting := make(chan struct{}, 3)
	c := newClusterWith(t, 3, func(cfg *Config) {
		cfg.Report = func(ctx context.Context, _ HealthReport) error {
			reporting <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}
	})
	leader := c.holder()
	for _, n := range c.nodes {
		n.SetHealth(Health{Known: true, Healthy: true})
	}
	<-reporting // a follower's report is stuck until Run's ctx ends

	c.isolate(leader)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := leader.Apply(ctx, fsm.AddVIP(vip("192.0.2.100/24"))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("apply on a cut-off leader = %v, want the caller's deadline", err)
	}

	n, err := Open(Config{ID: "t1", RaftBind: freePort(t), Timing: testTiming(), Logger: c.log, InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	stopTCP := c.run("t1", n)
	if err := n.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "t1 to hold", func() bool { return n.Status().Holder })
	conn, err := net.Dial("tcp", string(n.trans.LocalAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	stopTCP()
	for _, n := range c.nodes {
		n.stop()
	}
	goleak.VerifyNone(t, append(raftLingers, before)...)
}
