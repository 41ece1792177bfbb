package agent

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

func TestLocalize(t *testing.T) {
	seeds, err := Config{VIPs: List{"192.0.2.100/24"}}.SeedVIPs()
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, seeds[0])
	seeds[1].Interface = "eth1"
	got := localize(seeds, "eth0")
	if got[0].Interface != "eth0" || got[1].Interface != "eth1" {
		t.Fatalf("localize = %+v: want the node's interface only where the VIP names none", got)
	}
	if seeds[0].Interface != "" {
		t.Fatal("localize modified its input")
	}
}

// A VIP without an interface of its own is looked for on -interface too,
// although the link lister does not name it: the agent binds it there.
func TestRemoveLeftoversPinsToInterface(t *testing.T) {
	ctx := context.Background()
	f := netopstest.NewFake()
	f.AddLink("eth0", netip.MustParsePrefix("192.0.2.11/24"))
	f.AddLink("eth9", netip.MustParsePrefix("192.0.2.12/24"))
	vip := fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24")}
	if err := f.Bind(ctx, "eth9", netops.Addr{Prefix: vip.Prefix}, time.Hour); err != nil {
		t.Fatal(err)
	}
	removed, err := RemoveLeftovers(ctx, f, func() ([]string, error) { return []string{"eth0"}, nil }, []fsm.VIP{vip}, "eth9", nil)
	if err != nil || !slices.Equal(removed, []netip.Prefix{vip.Prefix}) {
		t.Fatalf("removeLeftovers = %v, %v; want %s removed from eth9", removed, err, vip.Prefix)
	}
	if _, err := RemoveLeftovers(ctx, f, func() ([]string, error) { return nil, errors.New("no netlink") }, []fsm.VIP{vip}, "eth9", nil); err == nil {
		t.Error("a failing link lister was ignored: the start would go on as if no VIP were left")
	}
}
