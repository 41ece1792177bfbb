package agent

import (
	"testing"

	"github.com/raftvip/raftvip/internal/testutil"
)

// TestBootstrapExpectFormsOneCluster: three agents with the same
// -bootstrap-expect 3 and the same -join list (their own address included)
// form one cluster of three voters with one holder.
func TestBootstrapExpectFormsOneCluster(t *testing.T) {
	c := newTestCluster(t)
	var nodes []*node
	for i := 1; i <= 3; i++ {
		// Placeholders for New's validation: the real API addresses exist
		// only once node has made the listeners.
		nodes = append(nodes, c.node(i, func(cfg *Config) { cfg.BootstrapExpect, cfg.Join = 3, List{"a:1", "b:1"} }))
	}
	var join List
	for _, n := range nodes {
		join = append(join, n.cfg.HTTPAddr)
	}
	for _, n := range nodes {
		n.agent.cfg.Join = join
	}
	connect(nodes...)
	for _, n := range nodes {
		n.start(t)
	}
	for _, n := range nodes {
		ready(t, n)
	}
	testutil.Eventually(t, testutil.WaitLimit, "3 voters everywhere and one holder", func() bool {
		return voters(nodes[0]) == 3 && voters(nodes[1]) == 3 && voters(nodes[2]) == 3 && holders(c.lan) != ""
	})
	if v := c.lan.Violations(); len(v) > 0 {
		t.Fatalf("two holders: %v", v)
	}
}

// TestBootstrapJoinsAnExistingCluster: a node started with -bootstrap whose
// -join list names a member of a running cluster joins that cluster instead
// of creating a second one.
func TestBootstrapJoinsAnExistingCluster(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.node(1, func(cfg *Config) { cfg.Bootstrap = true })
	n2 := c.node(2, func(cfg *Config) { cfg.Bootstrap, cfg.Join = true, List{n1.cfg.HTTPAddr} })
	connect(n1, n2)
	n1.start(t)
	ready(t, n1)
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIP", func() bool { return holders(c.lan) == "n1" })
	n2.start(t)
	ready(t, n2)
	testutil.Eventually(t, testutil.WaitLimit, "n2 a voter of n1's cluster", func() bool { return voters(n1) == 2 && voters(n2) == 2 })
	if st := n2.agent.node.Status(); st.LeaderID != "n1" {
		t.Fatalf("n2 follows %q, want n1", st.LeaderID)
	}
	if v := c.lan.Violations(); len(v) > 0 {
		t.Fatalf("two holders: %v", v)
	}
}
