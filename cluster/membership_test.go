package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
)

// configOf returns the leader's configuration and its index.
func configOf(t *testing.T, n *testNode) (raft.Configuration, uint64) {
	t.Helper()
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		t.Fatal(err)
	}
	return cf.Configuration(), cf.Index()
}

// sameConfig fails t unless leader still leads with configuration want.
func sameConfig(t *testing.T, c *testCluster, leader *testNode, want raft.Configuration) {
	t.Helper()
	got, _ := configOf(t, leader)
	if len(got.Servers) != len(want.Servers) {
		t.Fatalf("configuration = %+v, want %+v", got.Servers, want.Servers)
	}
	for i := range want.Servers {
		if got.Servers[i] != want.Servers[i] {
			t.Fatalf("configuration = %+v, want %+v", got.Servers, want.Servers)
		}
	}
	if h := c.holder(); h != leader {
		t.Fatalf("holder = %s, want %s to keep leading", h.id, leader.id)
	}
}

func TestJoinUnreachableAddressChangesNothing(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.holder()
	before, _ := configOf(t, leader)
	n4 := c.start("n4", nil)
	c.mu.Lock()
	c.unreachable[string(n4.addr)] = true
	c.mu.Unlock()
	err := leader.Join(context.Background(), "n4", string(n4.addr), "api-n4")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "nothing changed") {
		t.Fatalf("join of an unreachable address = %v, want ErrUnreachable saying nothing changed", err)
	}
	sameConfig(t, c, leader, before)
}

func TestJoinThatNeverCatchesUpIsUndone(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.holder()
	before, _ := configOf(t, leader)
	// n4 answers on its API (the probe) and its port accepts (the fake
	// dialer), but Raft never reaches it: say, a firewall on the Raft port.
	n4 := c.start("n4", nil)
	c.isolate(n4)
	err := leader.Join(context.Background(), "n4", string(n4.addr), "api-n4")
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "removed again, nothing changed") {
		t.Fatalf("join of a node Raft cannot reach = %v, want ErrUnreachable saying it was removed again", err)
	}
	sameConfig(t, c, leader, before)
}

func TestJoinReaddressingLiveMemberRefused(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.holder()
	var live *testNode
	for _, n := range c.nodes {
		if n != leader {
			live = n
		}
	}
	before, _ := configOf(t, leader)
	typo := c.start("typo", nil) // an address that answers, but is not live's
	err := leader.Join(context.Background(), live.id, string(typo.addr), "api-"+live.id)
	if !errors.Is(err, ErrAddressConflict) {
		t.Fatalf("re-addressing live %s = %v, want ErrAddressConflict", live.id, err)
	}
	for _, want := range []string{"member " + live.id + " is live at " + string(live.addr), "raftvip leave " + live.id} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	sameConfig(t, c, leader, before)
}

func TestJoinPromotedOnceCaughtUp(t *testing.T) {
	c := newCluster(t, 3)
	leader := c.holder()
	ctx := context.Background()
	n4 := c.start("n4", nil)
	if err := leader.Join(ctx, "n4", string(n4.addr), "api-n4"); err != nil {
		t.Fatalf("join n4: %v", err)
	}
	if s, ok := leader.server("n4"); !ok || s.Suffrage != raft.Voter || s.Address != n4.addr {
		t.Fatalf("n4 in the configuration = %+v (%v), want a voter at %s", s, ok, n4.addr)
	}
	if applied, added := n4.raft.AppliedIndex(), leader.raft.GetConfiguration().Index(); applied+1 < added {
		t.Errorf("n4 promoted with applied index %d, configuration at %d", applied, added)
	}

	// An API address that answers as another node is a typo too.
	before, _ := configOf(t, leader)
	c.start("n5", nil)
	n6 := c.start("n6", nil)
	err := leader.Join(ctx, "n6", string(n6.addr), "api-n5")
	if !errors.Is(err, ErrAddressConflict) || !strings.Contains(err.Error(), "answers as node n5, not n6") {
		t.Fatalf("join with n5's API address = %v, want ErrAddressConflict naming n5", err)
	}
	sameConfig(t, c, leader, before)
}

func TestVIPOnMemberAddressRefused(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.start("n1", func(cfg *Config) { cfg.APIAddr = "192.0.2.11:8080" })
	if err := n1.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to record its API address", func() bool {
		return n1.Status().Holder && n1.fsm.Members()["n1"].APIAddr == "192.0.2.11:8080"
	})
	ctx := context.Background()
	err := n1.Apply(ctx, fsm.AddVIP(vip("192.0.2.11/24")))
	if !errors.Is(err, ErrAddressConflict) || !strings.Contains(err.Error(), "API address of member n1") {
		t.Fatalf("VIP on n1's address = %v, want ErrAddressConflict naming n1's API address", err)
	}
	if vs := n1.fsm.State().VIPs; len(vs) != 0 {
		t.Fatalf("VIPs = %v, want none", vs)
	}

	// And the other way round: a node whose address is a VIP cannot join.
	if err := n1.Apply(ctx, fsm.AddVIP(vip("192.0.2.100/24"))); err != nil {
		t.Fatal(err)
	}
	n2 := c.start("n2", nil)
	before, _ := configOf(t, n1)
	err = n1.Join(ctx, "n2", string(n2.addr), "192.0.2.100:8080")
	if !errors.Is(err, ErrAddressConflict) || !strings.Contains(err.Error(), "VIP 192.0.2.100/24") {
		t.Fatalf("join with a VIP as API address = %v, want ErrAddressConflict naming the VIP", err)
	}
	sameConfig(t, c, n1, before)
}

func TestTransferNoOpSaysSo(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.start("n1", nil)
	if err := n1.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIPs", func() bool { return n1.Status().Holder })
	for _, id := range []string{"", "n1"} {
		res, err := n1.Transfer(context.Background(), id)
		if err != nil || res != (TransferResult{Leader: "n1"}) {
			t.Errorf("transfer %q on the only voter = %+v, %v; want a no-op naming n1", id, res, err)
		}
	}
	if h := c.holder(); h != n1 {
		t.Fatalf("holder = %s after a no-op transfer", h.id)
	}
}
