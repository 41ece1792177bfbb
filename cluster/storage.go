package cluster

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/raftvip/raftvip/fsm"
	"go.etcd.io/bbolt"
)

// boltFile is the one file holding the raft log and stable store.
const boltFile = "raft.db"

// boltLockTimeout bounds the wait for bolt's file lock: another raftvip on the
// same data dir holds it for as long as it runs, so waiting longer only delays
// the "in use" error.
const boltLockTimeout = time.Second

// retainSnapshots is how many FSM snapshots stay on disk: the newest plus one
// to fall back on if the newest turns out damaged.
const retainSnapshots = 2

// stores is what Open opened before raft.NewRaft: the log, stable and snapshot
// stores, and the bolt file to close on shutdown (nil in memory).
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	bolt   *raftboltdb.BoltStore
}

// openStores opens the stores in cfg.DataDir, or in memory. It never deletes
// or rewrites anything: a damaged file is reported and left for the operator.
func openStores(cfg Config, hlog hclog.Logger) (stores, error) {
	if cfg.InMemory {
		mem := raft.NewInmemStore()
		return stores{logs: mem, stable: mem, snaps: raft.NewInmemSnapshotStore()}, nil
	}
	if err := prepareDataDir(cfg.DataDir); err != nil {
		return stores{}, err
	}
	path := filepath.Join(cfg.DataDir, boltFile)
	if err := checkBolt(path); err != nil {
		return stores{}, err
	}
	opts := *bbolt.DefaultOptions
	opts.Timeout = boltLockTimeout
	// NoSync stays false: a vote or a log entry acknowledged but lost in a crash
	// breaks Raft's safety, and with it the single-holder guarantee.
	bs, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &opts})
	if err != nil {
		return stores{}, boltError(path, err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, retainSnapshots, hlog)
	if err != nil {
		_ = bs.Close()
		return stores{}, fmt.Errorf("open snapshot store in %s: %w", cfg.DataDir, err)
	}
	return stores{logs: bs, stable: bs, snaps: snaps, bolt: bs}, nil
}

// prepareDataDir creates dir (0700: it holds the cluster's state) and checks
// that it can be written, so that a read-only mount is reported at start and
// not at the first vote.
func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("data dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	err = errors.Join(f.Close(), os.Remove(name))
	if err != nil {
		return fmt.Errorf("data dir %s: write check: %w", dir, err)
	}
	return nil
}

// checkBolt opens an existing bolt file read-only and walks every page, so that
// a damaged or truncated file gives a clear error before raft reads it. bolt
// panics on damaged pages, and a truncated file faults when a page past its
// end is touched; both are turned into errors here. Read-only means nothing is
// written, whatever the file holds.
func checkBolt(path string) (err error) {
	info, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && info.Size() == 0) {
		return nil // a new data dir: bolt creates the file
	}
	if err != nil {
		return fmt.Errorf("raft store %s: %w", path, err)
	}
	opts := *bbolt.DefaultOptions
	opts.Timeout = boltLockTimeout
	opts.ReadOnly = true
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("raft store %s is damaged (%v); it was left untouched: restore it from a backup, "+
				"or move the data dir away and join this node again", path, r)
		}
	}()
	db, err := bbolt.Open(path, 0o600, &opts)
	if err != nil {
		return boltError(path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(_, _ []byte) error { return nil })
		})
	})
	if err != nil {
		return boltError(path, err)
	}
	return nil
}

// boltError turns bolt's terse errors into one line naming the file and what
// to do.
func boltError(path string, err error) error {
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return fmt.Errorf("data dir %s is in use by another process (lock on %s held for %s): %w",
			filepath.Dir(path), path, boltLockTimeout, err)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return fmt.Errorf("raft store %s: %w", path, err)
	}
	// Anything else bolt refuses in an existing, non-empty file is damage:
	// ErrInvalid, ErrChecksum, ErrVersionMismatch, but also untyped errors
	// such as "file size too small" for a truncated file.
	return fmt.Errorf("raft store %s is damaged: %w; it was left untouched: restore it from a backup, "+
		"or move the data dir away and join this node again", path, err)
}

// replica is the raft.FSM over fsm.FSM: it feeds it log entries with their
// term and pokes the node after every change.
type replica struct {
	f       *fsm.FSM
	log     *slog.Logger
	changed func()
	// moves counts applied claims that changed the owner to another node.
	moves *atomic.Uint64
}

// Apply applies a command entry. The returned value is the FSM's error (nil
// when accepted), so Node.Apply can hand rejections back to the caller.
func (r *replica) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	before := r.f.Owner().Node
	err := r.f.Apply(l.Term, l.Data)
	if after := r.f.Owner().Node; after != before && before != "" {
		r.moves.Add(1)
	}
	switch {
	case errors.Is(err, fsm.ErrMalformed), errors.Is(err, fsm.ErrUnsupportedVersion),
		errors.Is(err, fsm.ErrUnknownCommand):
		// Every node skips the same entry, so the replicas stay identical; an
		// operator must hear about it, since no client may be waiting for it.
		r.log.Error("skipped a damaged or unreadable log entry", "index", l.Index, "term", l.Term, "err", err)
	case err != nil:
		r.log.Debug("command rejected", "index", l.Index, "term", l.Term, "err", err)
	}
	r.changed()
	return err
}

// Snapshot returns the encoded state; the bytes are a copy, so Persist may run
// while Apply goes on.
func (r *replica) Snapshot() (raft.FSMSnapshot, error) {
	b, err := r.f.Snapshot()
	if err != nil {
		return nil, err
	}
	return snapshot(b), nil
}

// Restore replaces the state with a snapshot.
func (r *replica) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := r.f.Restore(rc); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	r.changed()
	return nil
}

type snapshot []byte

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		return errors.Join(fmt.Errorf("write snapshot: %w", err), sink.Cancel())
	}
	return sink.Close()
}

func (s snapshot) Release() {}

// KnownVIPs returns every VIP this node's data says the cluster may have had:
// the current FSM state (at start, the restored snapshot) and every VIP added
// or seeded by an entry still in the log. It is a superset, for removing
// addresses a killed predecessor left in the kernel; it only reads.
func (n *Node) KnownVIPs() []fsm.VIP {
	vips, err := knownVIPs(n.fsm.State(), n.stores.logs)
	if err != nil {
		n.log.Warn("cannot read the raft log for known VIPs", "err", err)
	}
	return vips
}

// knownVIPs is KnownVIPs on a state and a log store, shared with the offline
// reader (ReadKnownVIPs). On a log read error it still returns st's VIPs.
func knownVIPs(st fsm.State, logs raft.LogStore) ([]fsm.VIP, error) {
	seen := map[fsm.VIP]bool{}
	for _, v := range st.VIPs {
		seen[v] = true
	}
	first, errFirst := logs.FirstIndex()
	last, errLast := logs.LastIndex()
	readErr := errors.Join(errFirst, errLast)
	for i := first; readErr == nil && first > 0 && i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil || l.Type != raft.LogCommand {
			continue // compacted meanwhile, or not a command
		}
		c, err := fsm.Decode(l.Data)
		if err != nil {
			continue
		}
		switch c.Type {
		case fsm.TypeAddVIP:
			seen[*c.VIP] = true
		case fsm.TypeSeedVIPs:
			for _, v := range c.VIPs {
				seen[v] = true
			}
		}
	}
	return slices.SortedFunc(maps.Keys(seen), compareVIPs), readErr
}
