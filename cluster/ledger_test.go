package cluster

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// ledgerVIP is the VIP of a cluster judged by the LAN ledger.
var ledgerVIP = vip("192.0.2.100/24")

// ledgerLease is the VIPs' kernel lifetime: the shortest a reconciler allows.
const ledgerLease = time.Second

// newLedgerCluster is newCluster with each node's VIP handled as the agent
// handles it: a netops.Reconciler on the node's View and OnChange, binding
// on a fake kernel that reports to one LAN ledger. The ledger fails the test
// on the bind that makes a second node hold the VIP while another still
// does, however short the overlap. It imports netops in tests only, which
// the dependency rule (cluster and netops never import each other) allows:
// netops imports fsm only, so there is no cycle, and the binary is
// unchanged.
func newLedgerCluster(t *testing.T, size int) (*testCluster, *netopstest.LAN) {
	t.Helper()
	c := newTestCluster(t)
	c.lan, c.fakes = netopstest.NewLAN(t), map[string]*netopstest.Fake{}
	c.form(size, func(cfg *Config) { cfg.SeedVIPs = []fsm.VIP{ledgerVIP} })
	return c, c.lan
}

// withReconciler wires a reconciler for node id into cfg and returns the
// function that starts it once the node is open. The reconciler stops, and
// drops what it holds, before the node shuts down (cleanups run last
// first), as the agent drops the VIPs before handing leadership over.
func (c *testCluster) withReconciler(id string, cfg *Config) (start func(*Node)) {
	fake := c.lan.Fake(id)
	fake.AddLink("eth0", netip.MustParsePrefix(fmt.Sprintf("192.0.2.%d/24", 10+len(c.nodes))))
	c.fakes[id] = fake
	var node *Node // set before Run reads the view
	rec, err := netops.NewReconciler(netops.Config{
		Node: id, Binder: fake, Announcer: fake, Lease: ledgerLease,
		View: func() netops.View {
			st, leader, term := node.View()
			return netops.View{State: st, Leader: leader, Term: term}
		},
	})
	if err != nil {
		c.t.Fatalf("reconciler %s: %v", id, err)
	}
	// As in the agent: a handover waits for a pass that dropped the VIP.
	cfg.Released = rec.Released
	prev := cfg.OnChange
	cfg.OnChange = func() {
		rec.Poke()
		if prev != nil {
			prev()
		}
	}
	return func(n *Node) {
		node = n
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := rec.Run(ctx); err != nil {
				c.t.Errorf("reconciler %s: %v", id, err)
			}
		})
		c.t.Cleanup(func() { cancel(); wg.Wait() })
	}
}
