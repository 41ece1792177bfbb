package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// openNode opens a node on dir, as the agent does, on an in-memory transport.
func openNode(t *testing.T, dir string, seeds []fsm.VIP) *cluster.Node {
	t.Helper()
	timing, err := cluster.Profile("fast")
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport("n1")
	n, err := cluster.Open(cluster.Config{ID: "n1", APIAddr: "api-n1", DataDir: dir, Timing: timing,
		SeedVIPs: seeds, Transport: trans})
	if err != nil {
		t.Fatalf("open node on %s: %v", dir, err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n
}

// writeDataDir leaves behind the data dir of a one-node cluster whose VIP set
// was seeded with seeds, as a crashed agent would.
func writeDataDir(t *testing.T, seeds ...fsm.VIP) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	n := openNode(t, dir, seeds)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	if err := n.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, fmt.Sprintf("the seeds %v to be applied", seeds),
		func() bool { return len(n.KnownVIPs()) >= len(seeds) })
	cancel()
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustVIP(t *testing.T, s string) fsm.VIP {
	t.Helper()
	v, err := fsm.ParseVIP(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, env(nil))
	return code, out.String(), errOut.String()
}

func TestReleaseWithoutDataDirReleasesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-created")
	code, out, errOut := runCmd("release", "-data-dir", dir)
	if code != 0 || !strings.Contains(out, "nothing to release") {
		t.Fatalf("release on an absent data dir: exit %d, stdout %q, stderr %q; want 0 and 'nothing to release'", code, out, errOut)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("release created the data dir %s (stat: %v)", dir, err)
	}
}

func TestReleaseRefusesWhileAnAgentRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	openNode(t, dir, nil) // holds the bolt lock, as a running agent does
	code, out, errOut := runCmd("release", "-data-dir", dir)
	if code != 1 || !strings.Contains(errOut, "refusing") || !strings.Contains(errOut, dir) {
		t.Fatalf("release while the data dir is held: exit %d, stdout %q, stderr %q; want 1 and a refusal naming %s",
			code, out, errOut, dir)
	}
}

func TestReleaseUsage(t *testing.T) {
	for _, args := range [][]string{{"release", "-bootstrap"}, {"release", "extra"}} {
		if code, _, errOut := runCmd(args...); code != 2 {
			t.Errorf("%v: exit %d (stderr %q), want 2", args, code, errOut)
		}
	}
}

func TestReleaseTargets(t *testing.T) {
	a, b := mustVIP(t, "192.0.2.100/24"), mustVIP(t, "2001:db8::100/64")
	dir := writeDataDir(t, a, b)
	cfgFile := writeFile(t, "raftvip.yaml", "data-dir: "+dir+"\ninterface: eth9\nvip: [192.0.2.150/24]\n")
	cfg, err := parseReleaseConfig([]string{"-config", cfgFile}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := releaseTargets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := []fsm.VIP{a, b, mustVIP(t, "192.0.2.150/24")}
	slices.SortFunc(got, func(x, y fsm.VIP) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	slices.SortFunc(want, func(x, y fsm.VIP) int { return x.Prefix.Addr().Compare(y.Prefix.Addr()) })
	if !slices.Equal(got, want) {
		t.Fatalf("release targets = %v, want the data dir's and the config's VIPs: %v", got, want)
	}
}

func TestReleaseRemovesKnownVIPsOnly(t *testing.T) {
	ctx := context.Background()
	f := netopstest.NewFake()
	f.AddLink("eth0", netip.MustParsePrefix("192.0.2.11/24"))
	vip := mustVIP(t, "192.0.2.100/24")
	admin := netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.60/24")}
	for _, a := range []netops.Addr{{Prefix: vip.Prefix}, admin} {
		if err := f.Bind(ctx, "eth0", a, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := release(ctx, f, links("eth0"), []fsm.VIP{vip}, "", &out, nil); err != nil {
		t.Fatal(err)
	}
	found, _ := netops.List(ctx, f, "eth0")
	left := netops.Prefixes(found)
	if slices.Contains(left, vip.Prefix) || !slices.Contains(left, admin.Prefix) {
		t.Fatalf("left on eth0: %v; want %s gone and %s kept", left, vip.Prefix, admin.Prefix)
	}
	if !strings.Contains(out.String(), "released 192.0.2.100/24") {
		t.Fatalf("output %q does not say what was released", out.String())
	}
	out.Reset()
	if err := release(ctx, f, links("eth0"), []fsm.VIP{vip}, "", &out, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nothing to release") {
		t.Fatalf("second release said %q, want 'nothing to release'", out.String())
	}
}

// A VIP equal to the host's own address (a mistake in the VIP set) must not
// make release delete that address: it was not added by raftvip.
func TestReleaseLeavesTheHostsOwnAddress(t *testing.T) {
	ctx := context.Background()
	f := netopstest.NewFake()
	primary := netip.MustParsePrefix("192.0.2.11/24")
	f.AddLink("eth0", primary)
	var out, logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	if err := release(ctx, f, links("eth0"), []fsm.VIP{{Prefix: primary}}, "", &out, log); err != nil {
		t.Fatal(err)
	}
	found, _ := netops.List(ctx, f, "eth0")
	if !slices.Contains(netops.Prefixes(found), primary) {
		t.Fatalf("release deleted the host's own address %s", primary)
	}
	if want := "nothing released: 192.0.2.11/24 is on this host but not added by raftvip (left in place)\n"; out.String() != want {
		t.Errorf("release said %q, want %q", out.String(), want)
	}
	if !strings.Contains(logs.String(), "not added by raftvip") || !strings.Contains(logs.String(), primary.String()) {
		t.Errorf("release logged %q, want a warning naming %s", logs.String(), primary)
	}
}

// links is a test's link lister for release and removeLeftovers.
func links(names ...string) func() ([]string, error) {
	return func() ([]string, error) { return names, nil }
}

// The seed VIP is both in the data dir and in the config: it is a target,
// and named, once.
func TestReleaseTargetsOnce(t *testing.T) {
	a := mustVIP(t, "192.0.2.100/24")
	dir := writeDataDir(t, a)
	cfgFile := writeFile(t, "raftvip.yaml", "data-dir: "+dir+"\nvip: [192.0.2.100/24, 192.0.2.11/24]\n")
	cfg, err := parseReleaseConfig([]string{"-config", cfgFile}, env(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := releaseTargets(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []fsm.VIP{a, mustVIP(t, "192.0.2.11/24")}; !slices.Equal(got, want) {
		t.Fatalf("release targets = %v, want %v", got, want)
	}
}

func TestReleaseSummary(t *testing.T) {
	p := netip.MustParsePrefix
	vips := []fsm.VIP{{Prefix: p("192.0.2.100/24")}, {Prefix: p("192.0.2.11/24")}, {Prefix: p("2001:db8::100/64")}}
	for _, tt := range []struct {
		name          string
		vips          []fsm.VIP
		removed, left []netip.Prefix
		want          string
	}{
		{"none configured", vips, nil, nil,
			"nothing to release: none of the known VIPs (192.0.2.100/24, 192.0.2.11/24, 2001:db8::100/64) is configured on this host"},
		{"the same VIP twice is named once", append(vips[:1:1], vips[0]), nil, nil,
			"nothing to release: none of the known VIPs (192.0.2.100/24) is configured on this host"},
		{"the host's own address", vips, nil, []netip.Prefix{p("192.0.2.11/24")},
			"nothing released: 192.0.2.11/24 is on this host but not added by raftvip (left in place); " +
				"the other known VIPs are not configured here"},
		{"the only VIP is the host's address", vips[1:2], nil, []netip.Prefix{p("192.0.2.11/24")},
			"nothing released: 192.0.2.11/24 is on this host but not added by raftvip (left in place)"},
		{"released, one left", vips, []netip.Prefix{p("192.0.2.100/24")}, []netip.Prefix{p("192.0.2.11/24")},
			"192.0.2.11/24 is on this host but not added by raftvip (left in place)"},
		{"released all", vips, []netip.Prefix{p("192.0.2.100/24")}, nil, ""},
	} {
		if got := releaseSummary(tt.vips, tt.removed, tt.left); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
