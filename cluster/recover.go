package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"

	"github.com/raftvip/raftvip/fsm"
)

// Recovered is what Recover did.
type Recovered struct {
	// Before and After are the voters' IDs of the configuration before and
	// after.
	Before, After []string
	// Index and Term are those of the last entry kept: everything up to it
	// is now in a snapshot with the new configuration.
	Index, Term uint64
	// State is the replicated state kept.
	State fsm.State
}

// Recover replaces the Raft configuration in the stopped node's dataDir with
// members, all voters, and keeps the data (raft.RecoverCluster): it is the
// way out when a majority of the voters is gone for good. self is the node
// whose data dir it is; it must be among members, at its own Raft address,
// so that the node, once started, can be elected by the members given.
//
// It refuses a data dir an agent holds (ErrDataDirInUse, within
// boltLockTimeout), one without Raft state (nothing to recover: a new node
// joins or bootstraps instead) and a damaged one. raft.RecoverCluster treats
// every entry in the log as committed, which is the best a lone survivor can
// know.
func Recover(dataDir string, self Peer, members []Peer, log *slog.Logger) (Recovered, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conf, err := recoveryConfiguration(self, members)
	if err != nil {
		return Recovered{}, err
	}
	path := filepath.Join(dataDir, boltFile)
	if info, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) || err == nil && info.Size() == 0 {
		return Recovered{}, fmt.Errorf("%s holds no Raft state (no %s): nothing to recover", dataDir, boltFile)
	} else if err != nil {
		return Recovered{}, fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	if err := checkBolt(path); err != nil {
		return Recovered{}, inUse(err)
	}
	opts := *bbolt.DefaultOptions
	opts.Timeout = boltLockTimeout
	bs, err := raftboltdb.New(raftboltdb.Options{Path: path, BoltOptions: &opts})
	if err != nil {
		return Recovered{}, inUse(boltError(path, err))
	}
	defer bs.Close()
	hlog := NewHCLogger(log.Handler(), "raft")
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dataDir, retainSnapshots, hlog)
	if err != nil {
		return Recovered{}, fmt.Errorf("open snapshot store in %s: %w", dataDir, err)
	}
	if has, err := raft.HasExistingState(bs, bs, snaps); err != nil {
		return Recovered{}, fmt.Errorf("read raft state in %s: %w", dataDir, err)
	} else if !has {
		return Recovered{}, fmt.Errorf("%s holds no Raft state: nothing to recover", dataDir)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(self.ID)
	rc.Logger = hlog
	// The transport only names this node in the snapshot's metadata; nothing
	// is sent.
	_, trans := raft.NewInmemTransport(raft.ServerAddress(self.RaftAddr))
	defer trans.Close()
	newReplica := func() *replica {
		return &replica{f: fsm.New(), log: log, changed: func() {}, moves: new(atomic.Uint64)}
	}
	before, err := raft.GetConfiguration(rc, newReplica(), bs, bs, snaps, trans)
	if err != nil {
		return Recovered{}, fmt.Errorf("read the configuration in %s: %w", dataDir, err)
	}
	rep := newReplica()
	if err := raft.RecoverCluster(rc, rep, bs, bs, snaps, trans, conf); err != nil {
		return Recovered{}, fmt.Errorf("recover %s: %w", dataDir, err)
	}
	var out Recovered
	if list, err := snaps.List(); err == nil && len(list) > 0 {
		out.Index, out.Term = list[0].Index, list[0].Term
	}
	out.Before, out.After, out.State = voterIDs(before), voterIDs(conf), rep.f.State()
	log.Info("recovered the raft configuration", "data_dir", dataDir, "before", out.Before, "after", out.After,
		"index", out.Index, "term", out.Term)
	return out, nil
}

// recoveryConfiguration checks members and makes them a configuration.
func recoveryConfiguration(self Peer, members []Peer) (raft.Configuration, error) {
	var conf raft.Configuration
	ids, addrs := map[string]bool{}, map[string]bool{}
	for _, m := range members {
		switch {
		case m.ID == "" || m.RaftAddr == "":
			return conf, fmt.Errorf("member %q: want id=raft-address", m.ID+"="+m.RaftAddr)
		case ids[m.ID]:
			return conf, fmt.Errorf("member %s is listed twice", m.ID)
		case addrs[m.RaftAddr]:
			return conf, fmt.Errorf("raft address %s is listed twice", m.RaftAddr)
		case m.ID == self.ID && m.RaftAddr != self.RaftAddr:
			return conf, fmt.Errorf("member %s is given raft address %s, but this node's is %s", m.ID, m.RaftAddr, self.RaftAddr)
		}
		ids[m.ID], addrs[m.RaftAddr] = true, true
		conf.Servers = append(conf.Servers, raft.Server{
			Suffrage: raft.Voter, ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.RaftAddr),
		})
	}
	if !ids[self.ID] {
		return conf, fmt.Errorf("this node, %s, is not among the members: it could never be elected", self.ID)
	}
	return conf, nil
}

func voterIDs(c raft.Configuration) []string {
	var out []string
	for _, s := range c.Servers {
		if s.Suffrage == raft.Voter {
			out = append(out, string(s.ID))
		}
	}
	slices.Sort(out)
	return out
}
