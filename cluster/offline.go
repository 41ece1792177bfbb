package cluster

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc64"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/raftvip/raftvip/fsm"
)

// ErrDataDirInUse means that another process, normally a running agent, holds
// the data dir's bolt lock.
var ErrDataDirInUse = errors.New("data dir in use")

// snapshotDir is raft's FileSnapshotStore directory under the data dir.
const snapshotDir = "snapshots"

// ReadKnownVIPs returns what KnownVIPs would return at start, without starting
// Raft and without a running agent: the VIPs of the newest snapshot plus every
// VIP added or seeded by an entry in the log. It opens raft.db read-only and
// never creates, writes or removes anything, so it is safe on a data dir left
// by a crash. An absent or empty data dir gives no VIPs and no error. If an
// agent runs on dataDir, it returns ErrDataDirInUse within boltLockTimeout.
func ReadKnownVIPs(dataDir string) ([]fsm.VIP, error) {
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	st, err := readNewestSnapshot(filepath.Join(dataDir, snapshotDir))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, boltFile)
	if info, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) || err == nil && info.Size() == 0 {
		return knownVIPs(st, raft.NewInmemStore())
	}
	// checkBolt walks the file read-only first: bolt panics on damaged pages.
	if err := checkBolt(path); err != nil {
		return nil, inUse(err)
	}
	opts := *bbolt.DefaultOptions
	opts.Timeout = boltLockTimeout
	opts.ReadOnly = true // a shared lock: refused while an agent holds its exclusive one
	bs, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &opts})
	if err != nil {
		return nil, inUse(boltError(path, err))
	}
	defer bs.Close()
	vips, err := knownVIPs(st, bs)
	if err != nil {
		return nil, fmt.Errorf("read the raft log in %s: %w", path, err)
	}
	return vips, nil
}

// inUse marks a bolt lock timeout with ErrDataDirInUse.
func inUse(err error) error {
	if errors.Is(err, bbolt.ErrTimeout) {
		return fmt.Errorf("%w: %w", ErrDataDirInUse, err)
	}
	return err
}

// snapshotMeta is the part of raft's meta.json read here: raft's own
// SnapshotMeta plus the CRC-64 (ECMA) of state.bin.
type snapshotMeta struct {
	raft.SnapshotMeta
	CRC []byte
}

// readNewestSnapshot decodes the newest readable snapshot in dir, as raft does
// at start: newest first by term, index and ID, skipping temporary and damaged
// ones. It reads the files directly because raft's FileSnapshotStore writes a
// test file into the directory when it is created, and this reader must not
// write. No snapshot, or no directory, is the empty state.
func readNewestSnapshot(dir string) (fsm.State, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fsm.State{}, nil
	}
	if err != nil {
		return fsm.State{}, fmt.Errorf("snapshots in %s: %w", dir, err)
	}
	var metas []snapshotMeta
	for _, e := range entries {
		if !e.IsDir() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		var m snapshotMeta
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "meta.json"))
		if err != nil || json.Unmarshal(b, &m) != nil || m.ID != e.Name() {
			continue
		}
		metas = append(metas, m)
	}
	slices.SortFunc(metas, func(a, b snapshotMeta) int {
		return -cmp.Or(cmp.Compare(a.Term, b.Term), cmp.Compare(a.Index, b.Index), strings.Compare(a.ID, b.ID))
	})
	var errs []error
	for _, m := range metas {
		st, err := readSnapshotState(filepath.Join(dir, m.ID, "state.bin"), m.CRC)
		if err == nil {
			return st, nil
		}
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fsm.State{}, fmt.Errorf("no readable snapshot in %s: %w", dir, errors.Join(errs...))
	}
	return fsm.State{}, nil
}

func readSnapshotState(path string, crc []byte) (fsm.State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return fsm.State{}, err
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(b)
	if !bytes.Equal(h.Sum(nil), crc) {
		return fsm.State{}, fmt.Errorf("snapshot %s: CRC mismatch", path)
	}
	st, err := fsm.DecodeSnapshot(bytes.NewReader(b))
	if err != nil {
		return fsm.State{}, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return st, nil
}
