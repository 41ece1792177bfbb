package cluster

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
)

// diskConfig is a node on a bolt store in dir, on an in-memory transport with
// a fixed address so that a reopened node keeps its configured address.
func diskConfig(t *testing.T, dir string) Config {
	t.Helper()
	log, _ := testLogger(t)
	_, trans := raft.NewInmemTransport("n1")
	return Config{ID: "n1", APIAddr: "api-n1", DataDir: dir, Timing: testTiming(), Logger: log, Transport: trans}
}

// runDisk bootstraps a one-node cluster in dir, applies cmds, and shuts it
// down, leaving raft.db behind. With snapshot, a snapshot is taken first.
func runDisk(t *testing.T, dir string, snapshot bool, cmds ...fsm.Command) {
	t.Helper()
	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer n.Shutdown(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); n.Run(ctx) }()
	defer func() { cancel(); <-ran }()
	if n.HasState() {
		t.Fatal("HasState on a new data dir")
	}
	if err := n.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "the single node to hold", func() bool { return n.Status().Holder })
	for i, c := range cmds {
		if snapshot && i == len(cmds)-1 {
			if err := n.raft.Snapshot().Error(); err != nil {
				t.Fatalf("snapshot: %v", err)
			}
		}
		if err := n.Apply(ctx, c); err != nil {
			t.Fatalf("apply %s: %v", c.Type, err)
		}
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func TestReopenKeepsStateAndKnownVIPs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, c := vip("192.0.2.100/24"), vip("192.0.2.101/24"), vip("2001:db8::100/64")
	runDisk(t, dir, true, fsm.SeedVIPs([]fsm.VIP{a}), fsm.AddVIP(b), fsm.RemoveVIP(b.Prefix.Addr()), fsm.AddVIP(c))

	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer n.Shutdown(context.Background())
	if !n.HasState() {
		t.Fatal("HasState = false after a restart")
	}
	if err := n.Bootstrap(); err != nil {
		t.Fatalf("bootstrap with state = %v, want nil (skipped)", err)
	}
	// b was removed, but a predecessor may have left it bound: it is known.
	got := n.KnownVIPs()
	if !sameVIPs(got, []fsm.VIP{a, b, c}) {
		t.Fatalf("KnownVIPs = %v, want %v", got, []fsm.VIP{a, b, c})
	}
}

func TestOpenRefusesUnwritableDataDir(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := diskConfig(t, filepath.Join(file, "data"))
	_, err := Open(cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Fatalf("Open under a regular file = %v, want an error naming %s", err, cfg.DataDir)
	}
}

// damage runs Open on a data dir whose raft.db holds data, and checks that the
// error says the file is damaged and that the file is byte for byte unchanged.
func damage(t *testing.T, dir string) {
	t.Helper()
	path := filepath.Join(dir, boltFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, openErr := Open(diskConfig(t, dir))
	if openErr == nil || !strings.Contains(openErr.Error(), path) || !strings.Contains(openErr.Error(), "damaged") {
		t.Fatalf("Open = %v, want an error naming %s as damaged", openErr, path)
	}
	if strings.Contains(openErr.Error(), "\n") {
		t.Errorf("error spans lines: %q", openErr)
	}
	after, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("%s changed or vanished (err %v)", path, err)
	}
	t.Logf("error: %v", openErr)
}

func TestOpenReportsGarbageStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	garbage := bytes.Repeat([]byte("this is not a bolt database "), 1000)
	if err := os.WriteFile(filepath.Join(dir, boltFile), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	damage(t, dir)
}

func TestOpenReportsTruncatedStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var cmds []fsm.Command
	for i := range 200 {
		cmds = append(cmds, fsm.SetMember("n1", strings.Repeat("x", i+1)))
	}
	runDisk(t, dir, false, cmds...)
	path := filepath.Join(dir, boltFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the meta pages (the first two), lose the tree.
	if err := os.Truncate(path, max(info.Size()/4, 3*4096)); err != nil {
		t.Fatal(err)
	}
	damage(t, dir)
}

func TestOpenReportsDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	_, err = Open(diskConfig(t, dir))
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second Open = %v, want an error saying %s is in use", err, dir)
	}
}

func TestOpenValidatesConfig(t *testing.T) {
	t.Parallel()
	ok := Config{ID: "n1", RaftBind: "127.0.0.1:0", InMemory: true, Timing: testTiming()}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no ID", func(c *Config) { c.ID = "" }, "node ID"},
		{"unsafe timing", func(c *Config) { c.Timing.LeaderLease = c.Timing.Heartbeat }, "unsafe timing"},
		{"no data dir", func(c *Config) { c.InMemory = false }, "data dir"},
		{"no bind", func(c *Config) { c.RaftBind = "" }, "bind"},
		{"unspecified advertise", func(c *Config) { c.RaftBind = "0.0.0.0:0" }, "0.0.0.0:0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			_, err := Open(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open = %v, want an error mentioning %q", err, tt.want)
			}
			if tt.name == "unsafe timing" && !errors.Is(err, ErrInvalidTiming) {
				t.Errorf("%v does not wrap ErrInvalidTiming", err)
			}
		})
	}
}

func TestOpenTCP(t *testing.T) {
	t.Parallel()
	n, err := Open(Config{ID: "n1", RaftBind: "127.0.0.1:0", RaftAdvertise: "127.0.0.1:7000", InMemory: true,
		Timing: testTiming()})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.trans.LocalAddr(); got != "127.0.0.1:7000" {
		t.Errorf("advertised %s, want 127.0.0.1:7000", got)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown = %v, want the first's nil", err)
	}
}

// The TCP transport replicates without raft's pipeline, whose wedged sender
// and decoder can keep Shutdown waiting for ever after a step-down (see
// tcpMaxInFlight): raft asks for a pipeline and is told there is none.
func TestTCPTransportHasNoPipeline(t *testing.T) {
	log, _ := testLogger(t)
	trans, _, _, err := openTransport(Config{ID: "n1", RaftBind: "127.0.0.1:0", RaftAdvertise: "127.0.0.1:7000"},
		log, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = trans.(raft.WithClose).Close() })
	p, err := trans.AppendEntriesPipeline("n2", "127.0.0.1:1")
	if !errors.Is(err, raft.ErrPipelineReplicationNotSupported) {
		if p != nil {
			_ = p.Close()
		}
		t.Fatalf("AppendEntriesPipeline: %v, want raft.ErrPipelineReplicationNotSupported", err)
	}
}
