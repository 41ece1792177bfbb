package cluster

import (
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/fsm"
)

// tree fingerprints every file and directory under dir (name, mode, size,
// mtime, content), to show that a reader left it exactly as it was.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		sum := ""
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			sum = string(h[:])
		}
		out[p] = info.Mode().String() + info.ModTime().String() + sum
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s changed or vanished", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

func TestReadKnownVIPsMatchesKnownVIPs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b, c := vip("192.0.2.100/24"), vip("192.0.2.101/24"), vip("2001:db8::100/64")
	runDisk(t, dir, true, fsm.SeedVIPs([]fsm.VIP{a}), fsm.AddVIP(b), fsm.RemoveVIP(b.Prefix.Addr()), fsm.AddVIP(c))

	before := tree(t, dir)
	got, err := ReadKnownVIPs(dir)
	if err != nil {
		t.Fatalf("ReadKnownVIPs: %v", err)
	}
	// b was removed, but a crashed agent may have left it bound: it is known.
	if want := []fsm.VIP{a, b, c}; !sameVIPs(got, want) {
		t.Fatalf("ReadKnownVIPs = %v, want %v", got, want)
	}
	sameTree(t, before, tree(t, dir))

	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	if online := n.KnownVIPs(); !sameVIPs(online, got) {
		t.Fatalf("KnownVIPs = %v, ReadKnownVIPs = %v: the agent and release disagree", online, got)
	}
}

func TestReadKnownVIPsFromSnapshotAlone(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, c := vip("192.0.2.100/24"), vip("192.0.2.102/24")
	// The snapshot is taken before the last command: it holds a, the log a and c.
	runDisk(t, dir, true, fsm.SeedVIPs([]fsm.VIP{a}), fsm.AddVIP(c))
	if err := os.Remove(filepath.Join(dir, boltFile)); err != nil {
		t.Fatal(err)
	}
	got, err := ReadKnownVIPs(dir)
	if err != nil {
		t.Fatalf("ReadKnownVIPs: %v", err)
	}
	if want := []fsm.VIP{a}; !sameVIPs(got, want) {
		t.Fatalf("ReadKnownVIPs without raft.db = %v, want the snapshot's %v", got, want)
	}
}

func TestReadKnownVIPsDamagedSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runDisk(t, dir, true, fsm.SeedVIPs([]fsm.VIP{vip("192.0.2.100/24")}), fsm.AddVIP(vip("192.0.2.102/24")))
	states, _ := filepath.Glob(filepath.Join(dir, snapshotDir, "*", "state.bin"))
	if len(states) != 1 {
		t.Fatalf("snapshots: %v, want one", states)
	}
	if err := os.WriteFile(states[0], []byte(`{"version":1,"state":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadKnownVIPs(dir)
	if err == nil || !strings.Contains(err.Error(), states[0]) {
		t.Fatalf("ReadKnownVIPs with a damaged snapshot = %v, want an error naming %s", err, states[0])
	}
}

func TestReadKnownVIPsAbsentOrEmpty(t *testing.T) {
	t.Parallel()
	absent := filepath.Join(t.TempDir(), "never-created")
	got, err := ReadKnownVIPs(absent)
	if err != nil || len(got) != 0 {
		t.Fatalf("absent data dir: %v, %v; want nothing and no error", got, err)
	}
	if _, err := os.Stat(absent); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadKnownVIPs created %s (stat: %v)", absent, err)
	}
	empty := t.TempDir()
	if got, err := ReadKnownVIPs(empty); err != nil || len(got) != 0 {
		t.Fatalf("empty data dir: %v, %v; want nothing and no error", got, err)
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Fatalf("ReadKnownVIPs wrote into an empty data dir: %v", entries)
	}
}

func TestReadKnownVIPsRefusesWhileAnAgentRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runDisk(t, dir, false, fsm.SeedVIPs([]fsm.VIP{vip("192.0.2.100/24")}))
	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	_, err = ReadKnownVIPs(dir)
	if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("ReadKnownVIPs while the node runs = %v, want ErrDataDirInUse naming %s", err, dir)
	}
}
