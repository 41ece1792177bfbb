package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

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
	if err := n.AddVIP(ctx, vip("192.0.2.101/24"), false); err != nil {
		t.Fatal(err)
	}
	err := n.AddVIP(ctx, vip("192.0.2.101/25"), false)
	if !errors.Is(err, ErrVIPExists) || !strings.Contains(err.Error(), "192.0.2.101/24") {
		t.Fatalf("prefix change without replace: %v, want ErrVIPExists naming 192.0.2.101/24", err)
	}
	if got := n.Status().VIPs; len(got) != 1 || got[0].Prefix.Bits() != 24 {
		t.Fatalf("VIPs after the refusal: %v", got)
	}
	if err := n.AddVIP(ctx, vip("192.0.2.101/25"), true); err != nil {
		t.Fatal(err)
	}
	if got := n.Status().VIPs; len(got) != 1 || got[0].Prefix.Bits() != 25 {
		t.Fatalf("VIPs after the replace: %v", got)
	}
}
