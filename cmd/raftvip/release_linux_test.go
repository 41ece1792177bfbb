//go:build linux

package main

import (
	"bytes"
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/nstest"
)

// TestReleaseRemovesLeftoverVIPInNetns is release after a crash, on a real
// kernel: the VIP a killed agent left bound goes, the host's own address stays.
func TestReleaseRemovesLeftoverVIPInNetns(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	vip := mustVIP(t, "192.0.2.100/32")
	dir := writeDataDir(t, vip)
	b := openNetlink(t, ns)
	if err := b.Bind(ctx, nstest.Link, netops.Addr{Prefix: vip.Prefix}, time.Hour); err != nil {
		t.Fatalf("bind the leftover VIP: %v", err)
	}
	cfg := defaultConfig()
	cfg.DataDir, cfg.Interface = dir, nstest.Link
	targets, err := releaseTargets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := release(ctx, b, links(nstest.Link), targets, cfg.Interface, &out, nil); err != nil {
		t.Fatalf("release: %v", err)
	}
	found, err := netops.List(ctx, b, nstest.Link)
	if err != nil {
		t.Fatal(err)
	}
	left := netops.Prefixes(found)
	if slices.Contains(left, vip.Prefix) || !slices.Contains(left, netip.MustParsePrefix(nstest.Primary)) {
		t.Fatalf("addresses on %s after release: %v; want %s gone and %s kept (output %q)",
			nstest.Link, left, vip.Prefix, nstest.Primary, out.String())
	}
}

// TestReleaseLeavesPrimaryInNetns is a data dir whose VIP set names the host's
// own primary address: release must not delete it.
func TestReleaseLeavesPrimaryInNetns(t *testing.T) {
	ns := nstest.New(t)
	ctx := context.Background()
	primary := netip.MustParsePrefix(nstest.Primary)
	b := openNetlink(t, ns)
	var out bytes.Buffer
	if err := release(ctx, b, links(nstest.Link), []fsm.VIP{{Prefix: primary}}, nstest.Link, &out, nil); err != nil {
		t.Fatalf("release: %v", err)
	}
	found, err := netops.List(ctx, b, nstest.Link)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(netops.Prefixes(found), primary) || strings.Contains(out.String(), "released "+primary.String()) {
		t.Fatalf("release said %q and left %v; want %s kept", out.String(), found, primary)
	}
}

// openNetlink is the Binder inside ns, closed when the test ends.
func openNetlink(t *testing.T, ns *nstest.NS) *netops.Netlink {
	t.Helper()
	b, err := netops.OpenNetlink(ns.NS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
