package cluster

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

func TestCheckVIPChange(t *testing.T) {
	on := func(p, link string) fsm.VIP { v := vip(p); v.Interface = link; return v }
	set := []fsm.VIP{on("192.0.2.100/24", "eth0")}
	for _, tt := range []struct {
		name    string
		add     fsm.VIP
		replace bool
		refused bool
	}{
		{"the same VIP again", on("192.0.2.100/24", "eth0"), false, false},
		{"another address", on("192.0.2.101/25", ""), false, false},
		{"another prefix length", on("192.0.2.100/25", "eth0"), false, true},
		{"another interface", on("192.0.2.100/24", "eth1"), false, true},
		{"another prefix length, replacing", on("192.0.2.100/25", "eth0"), true, false},
	} {
		err := checkVIPChange(set, tt.add, tt.replace)
		if got := errors.Is(err, ErrVIPExists); got != tt.refused {
			t.Errorf("%s: err = %v, want refused=%v", tt.name, err, tt.refused)
		}
	}
}

// The leader refuses a prefix change without replace and names the VIP in
// the way; with replace the VIP changes.
func TestAddVIPRefusesSilentReplace(t *testing.T) {
	c := newCluster(t, 1)
	n := c.holder()
	ctx := context.Background()
	if _, err := n.AddVIP(ctx, vip("192.0.2.101/24"), AddVIPOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := n.AddVIP(ctx, vip("192.0.2.101/25"), AddVIPOptions{})
	if !errors.Is(err, ErrVIPExists) || !strings.Contains(err.Error(), "192.0.2.101/24") {
		t.Fatalf("prefix change without replace: %v, want ErrVIPExists naming 192.0.2.101/24", err)
	}
	if got := n.Status().VIPs; len(got) != 1 || got[0].Prefix.Bits() != 24 {
		t.Fatalf("VIPs after the refusal: %v", got)
	}
	if _, err := n.AddVIP(ctx, vip("192.0.2.101/25"), AddVIPOptions{Replace: true}); err != nil {
		t.Fatal(err)
	}
	if got := n.Status().VIPs; len(got) != 1 || got[0].Prefix.Bits() != 25 {
		t.Fatalf("VIPs after the replace: %v", got)
	}
}

func TestCheckVIPLinks(t *testing.T) {
	members := map[string]fsm.Member{
		"n1": {Links: []string{"eth0", "eth1", "lo"}},
		"n2": {Links: []string{"eth0", "lo"}},
		"n3": {},                               // an older release: never reported
		"w1": {Witness: true},                  // a witness reports none
		"n4": {Links: []string{"bond0", "lo"}}, // lacks both
	}
	on := func(link string) fsm.VIP { v := vip("192.0.2.103/24"); v.Interface = link; return v }
	for _, tt := range []struct {
		name string
		v    fsm.VIP
		want []string
	}{
		{"no interface: by subnet on each node", vip("192.0.2.103/24"), nil},
		{"a link every reporting member has", on("lo"), nil},
		{"a link two members lack", on("eth1"), []string{"n2", "n4"}},
		{"a link no member has", on("eth9"), []string{"n1", "n2", "n4"}},
	} {
		if got := checkVIPLinks(tt.v, members); !slices.Equal(got, tt.want) {
			t.Errorf("%s: checkVIPLinks = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Members report their links with their health. The leader refuses a VIP
// pinned to an interface that reporting members lack, naming them, and not
// because of a member that never reported its links; forced, it accepts the
// VIP and names them.
func TestAddVIPRefusesMissingLink(t *testing.T) {
	t.Parallel()
	links := map[string][]string{"n1": {"lo", "eth0"}, "n2": {"eth0", "eth1", "lo"}}
	c := healthCluster(t, func(id string, cfg *Config) {
		if l, ok := links[id]; ok { // n3 reports none, as an older release
			cfg.Links = func() []string { return l }
		}
	})
	c.waitReported(func(m map[string]fsm.Member) bool {
		return m["n1"].HasLink("eth0") && m["n2"].HasLink("eth1")
	})
	v := vip("192.0.2.103/24")
	v.Interface = "eth1"
	var res AddVIPResult
	err := c.onLeader(func(l *testNode) (err error) {
		res, err = l.AddVIP(context.Background(), v, AddVIPOptions{})
		return err
	})
	if !errors.Is(err, ErrLinkMissing) || !strings.Contains(err.Error(), "not on n1,") ||
		strings.Contains(err.Error(), "n2") || strings.Contains(err.Error(), "n3") {
		t.Fatalf("add on a link n1 lacks: %v, want ErrLinkMissing naming n1 alone", err)
	}
	if got := c.holder().Status().VIPs; len(got) != 0 {
		t.Fatalf("VIPs after the refusal: %v", got)
	}
	if err := c.onLeader(func(l *testNode) (err error) {
		res, err = l.AddVIP(context.Background(), v, AddVIPOptions{Force: true})
		return err
	}); err != nil {
		t.Fatalf("forced add: %v", err)
	}
	if !slices.Equal(res.MissingLink, []string{"n1"}) {
		t.Fatalf("forced add names %v, want [n1]", res.MissingLink)
	}
	if got := c.holder().Status().VIPs; len(got) != 1 || got[0].Interface != "eth1" {
		t.Fatalf("VIPs after the forced add: %v", got)
	}
}

// A leader of an older release accepts a report without the links (the
// agent resends it so): the node must not report again on every pass
// because the record never shows them.
func TestLinksRefusedByOldLeaderAreNotResent(t *testing.T) {
	t.Parallel()
	var reports atomic.Int64
	var c *testCluster
	c = newClusterWith(t, 2, func(cfg *Config) {
		cfg.Links = func() []string { return []string{"eth0"} }
		cfg.Report = func(ctx context.Context, r HealthReport) error {
			reports.Add(1)
			r.Links = nil
			for _, n := range c.nodes {
				if n.raft.State() == raft.Leader {
					return n.Apply(ctx, r.Command())
				}
			}
			return ErrNoLeader
		}
	})
	for _, n := range c.nodes {
		n.SetHealth(Health{Known: true, Healthy: true})
	}
	c.waitReported(func(m map[string]fsm.Member) bool { return m["n1"].Health.Healthy && m["n2"].Health.Healthy })
	before := reports.Load()
	c.holder().waitHandoverPasses(t, 5)
	if got := reports.Load() - before; got > 1 {
		t.Fatalf("%d more reports after the first was accepted without links, want none", got)
	}
}

// The leader asks who has a new VIP's address before adding it: one another
// host answers for is refused, naming that host, and stays out of the set
// unless forced; a VIP already in the set is not asked about again, and a
// leader that cannot ask adds the VIP (its holder probes before binding).
func TestAddVIPRefusesAddressInUse(t *testing.T) {
	t.Parallel()
	var asked []string
	var mu sync.Mutex
	taken := vip("192.0.2.12/24")
	c := newClusterWith(t, 1, func(cfg *Config) {
		cfg.InUse = func(_ context.Context, v fsm.VIP) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, v.Prefix.String())
			switch v.Prefix.Addr() {
			case taken.Prefix.Addr():
				return "another host (MAC 02:00:00:00:00:09) answers for 192.0.2.12 on eth0", nil
			case netip.MustParseAddr("198.51.100.5"):
				return "", errors.New("no link for it here")
			}
			return "", nil
		}
	})
	n := c.holder()
	ctx := context.Background()
	_, err := n.AddVIP(ctx, taken, AddVIPOptions{})
	if !errors.Is(err, ErrAddressConflict) || !strings.Contains(err.Error(), "02:00:00:00:00:09") ||
		!strings.Contains(err.Error(), "-force") {
		t.Fatalf("add of an address another host answers for: %v, want ErrAddressConflict naming its MAC and -force", err)
	}
	if got := n.Status().VIPs; len(got) != 0 {
		t.Fatalf("VIPs after the refusal: %v", got)
	}
	for _, p := range []string{"192.0.2.101/24", "198.51.100.5/24"} {
		if _, err := n.AddVIP(ctx, vip(p), AddVIPOptions{}); err != nil {
			t.Fatalf("add of %s: %v", p, err)
		}
	}
	if _, err := n.AddVIP(ctx, taken, AddVIPOptions{Force: true}); err != nil {
		t.Fatalf("forced add: %v", err)
	}
	if _, err := n.AddVIP(ctx, vip("192.0.2.101/24"), AddVIPOptions{}); err != nil {
		t.Fatalf("add of a VIP in the set: %v", err)
	}
	if got := len(n.Status().VIPs); got != 3 {
		t.Fatalf("%d VIPs, want 3: %v", got, n.Status().VIPs)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"192.0.2.12/24", "192.0.2.101/24", "198.51.100.5/24"}; !slices.Equal(asked, want) {
		t.Fatalf("asked about %v, want %v (not when forced, not for a VIP in the set)", asked, want)
	}
}
