package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/internal/testutil"
)

func TestPlanStart(t *testing.T) {
	self := Peer{ID: "n1", RaftAddr: "192.0.2.11:7000"}
	waiting := func(id, n string, expect int) Answer {
		return Answer{Addr: "192.0.2.1" + n + ":8080", ID: id, RaftAddr: "192.0.2.1" + n + ":7000", Expect: expect}
	}
	member := func(id, n string) Answer {
		a := waiting(id, n, 0)
		a.Member = true
		return a
	}
	down := func(n string) Answer {
		return Answer{Addr: "192.0.2.1" + n + ":8080", Err: errors.New("connection refused")}
	}
	trio := []Peer{self, {ID: "n2", RaftAddr: "192.0.2.12:7000"}, {ID: "n3", RaftAddr: "192.0.2.13:7000"}}
	cases := []struct {
		name    string
		expect  int
		answers []Answer
		want    StartAction
		servers []Peer
		joinVia string
		err     string
	}{
		// -bootstrap (expect 0)
		{name: "bootstrap alone", want: StartBootstrap, servers: []Peer{self}},
		{name: "bootstrap, peers not up yet", answers: []Answer{down("2"), down("3")},
			want: StartBootstrap, servers: []Peer{self}},
		{name: "bootstrap, peers waiting to join", answers: []Answer{waiting("n2", "2", 0), waiting("n3", "3", 0)},
			want: StartBootstrap, servers: []Peer{self}},
		{name: "bootstrap left on, a member answers: join", answers: []Answer{down("2"), member("n3", "3")},
			want: StartJoin, joinVia: "n3"},
		{name: "an old copy of this node is a member", answers: []Answer{member("n1", "9")},
			err: "this node's ID n1"},

		// -bootstrap-expect
		{name: "expect 3, all waiting", expect: 3,
			answers: []Answer{waiting("n3", "3", 3), waiting("n2", "2", 3)}, want: StartBootstrap, servers: trio},
		{name: "expect 3, own address listed too", expect: 3,
			answers: []Answer{waiting("n1", "1", 3), waiting("n2", "2", 3), waiting("n3", "3", 3)},
			want:    StartBootstrap, servers: trio},
		{name: "expect 3, one not up", expect: 3, answers: []Answer{waiting("n2", "2", 3), down("3")}, want: StartWait},
		{name: "expect 3, one already bootstrapped: join it", expect: 3,
			answers: []Answer{waiting("n2", "2", 3), member("n3", "3")}, want: StartJoin, joinVia: "n3"},
		{name: "expect 3, a member while another is down", expect: 3,
			answers: []Answer{down("2"), member("n3", "3")}, want: StartJoin, joinVia: "n3"},
		{name: "expect 3, a peer with another expect", expect: 3,
			answers: []Answer{waiting("n2", "2", 3), waiting("n3", "3", 5)}, want: StartWait},
		{name: "expect 3, a peer waiting to join only", expect: 3,
			answers: []Answer{waiting("n2", "2", 3), waiting("n3", "3", 0)}, want: StartWait},
		{name: "expect 2, three listed", expect: 2,
			answers: []Answer{waiting("n2", "2", 2), waiting("n3", "3", 2)}, err: "lists 3 nodes"},
		{name: "expect 3, one listed twice", expect: 3,
			answers: []Answer{waiting("n2", "2", 3), waiting("n2", "2", 3)}, err: "lists 2 nodes"},
		{name: "expect 3, a duplicate ID", expect: 3,
			answers: []Answer{waiting("n2", "2", 3), waiting("n2", "3", 3)}, err: "two nodes claim ID n2"},
		{name: "expect 2, a duplicate raft address", expect: 2,
			answers: []Answer{{Addr: "x:8080", ID: "n2", RaftAddr: self.RaftAddr, Expect: 2}}, err: "raft address"},
		{name: "expect 1, no peers", expect: 1, want: StartBootstrap, servers: []Peer{self}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan, err := PlanStart(self, c.expect, c.answers)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("PlanStart = %+v, %v; want an error with %q", plan, err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if plan.Action != c.want {
				t.Fatalf("action = %d (%+v), want %d", plan.Action, plan, c.want)
			}
			if c.want == StartBootstrap && !slices.Equal(plan.Servers, c.servers) {
				t.Errorf("servers = %v, want %v", plan.Servers, c.servers)
			}
			if c.want == StartJoin && plan.Member.ID != c.joinVia {
				t.Errorf("join via %s, want %s", plan.Member.ID, c.joinVia)
			}
			if c.want == StartWait && plan.Wait == "" {
				t.Error("a wait without a reason")
			}
		})
	}
}

// TestBootstrapWithSameServers: three nodes bootstrap the same configuration
// of three voters, as -bootstrap-expect does: they form one cluster with one
// holder.
func TestBootstrapWithSameServers(t *testing.T) {
	c := newTestCluster(t)
	var nodes []*testNode
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes = append(nodes, c.start(id, func(cfg *Config) { cfg.BootstrapExpect = 3 }))
	}
	var servers []Peer
	for _, n := range nodes {
		st := n.Status()
		if st.HasState || st.BootstrapExpect != 3 || st.RaftAddr != string(n.addr) {
			t.Fatalf("%s before bootstrap: has_state %v, bootstrap_expect %d, raft_addr %q", n.id, st.HasState,
				st.BootstrapExpect, st.RaftAddr)
		}
		servers = append(servers, Peer{ID: st.ID, RaftAddr: st.RaftAddr})
	}
	if err := nodes[0].BootstrapWith(servers[1:]); err == nil {
		t.Fatal("BootstrapWith a configuration without the node itself succeeded")
	}
	for _, n := range nodes {
		if err := n.BootstrapWith(servers); err != nil {
			t.Fatalf("%s: %v", n.id, err)
		}
	}
	testutil.Eventually(t, testutil.WaitLimit, "one holder, three voters everywhere", func() bool {
		if len(c.holders()) != 1 {
			return false
		}
		for _, n := range nodes {
			if st := n.Status(); len(st.Members) != 3 || !st.HasState || st.BootstrapExpect != 0 {
				return false
			}
		}
		return true
	})
}
