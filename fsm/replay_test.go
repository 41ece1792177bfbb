package fsm_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/fsm"
)

// testdata/log-v1.json is a Raft log as the first release of the v1 command
// format wrote it: a bootstrap, three members joining, health reports, VIPs
// added and removed (IPv4 and IPv6, one removal of an absent VIP), a failover
// to n2, a member removed and a re-election. testdata/log-v1-want.json is the
// state that release built from it, and the entries it rejected. Both were
// generated once and are frozen: no later build may rewrite them, and every
// later build must replay the log to the same state.

// logEntry is one raft.Log as the fixture stores it.
type logEntry struct {
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	Type  string `json:"type"` // raft.LogType's name
	Data  []byte `json:"data,omitempty"`
}

type replayResult struct {
	Rejected []uint64  `json:"rejected"`
	State    fsm.State `json:"state"`
}

var stateEq = cmp.Options{cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmpopts.EquateEmpty()}

// sameAsV1 compares states as the first v1 release knew them: it kept no
// failover history, so the history a later build derives from the same log
// is compared against testdata/log-v1-history.json instead.
var sameAsV1 = cmp.Options{stateEq, cmpopts.IgnoreFields(fsm.State{}, "History", "Handover")}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// readLog returns the fixture's entries as raft.Log values.
func readLog(t *testing.T, name string) []raft.Log {
	t.Helper()
	var entries []logEntry
	readJSON(t, name, &entries)
	types := map[string]raft.LogType{}
	for _, lt := range []raft.LogType{raft.LogCommand, raft.LogNoop, raft.LogBarrier, raft.LogConfiguration} {
		types[lt.String()] = lt
	}
	logs := make([]raft.Log, len(entries))
	for i, e := range entries {
		lt, ok := types[e.Type]
		if !ok {
			t.Fatalf("%s: entry %d has unknown type %q", name, e.Index, e.Type)
		}
		logs[i] = raft.Log{Index: e.Index, Term: e.Term, Type: lt, Data: e.Data}
	}
	return logs
}

// replay applies logs to f as cluster's raft.FSM does: command entries only,
// each at its own term. It returns the indexes of the entries f rejected.
func replay(f *fsm.FSM, logs []raft.Log) []uint64 {
	var rejected []uint64
	for _, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		if err := f.Apply(l.Term, l.Data); err != nil {
			rejected = append(rejected, l.Index)
		}
	}
	return rejected
}

// TestReplayLogV1: a log written by the first v1 release replays to the state
// that release built, whether from the start or from a snapshot taken at any
// point of it (a node restarting, or one installing the leader's snapshot).
func TestReplayLogV1(t *testing.T) {
	logs := readLog(t, "log-v1.json")
	var want replayResult
	readJSON(t, "log-v1-want.json", &want)

	f := fsm.New()
	got := replayResult{Rejected: replay(f, logs), State: f.State()}
	if diff := cmp.Diff(want, got, sameAsV1); diff != "" {
		t.Fatalf("replay from the start (-want +got):\n%s", diff)
	}
	// The history this build derives from the claims of that log (frozen
	// like the rest: every later build must derive the same).
	history := got.State.History
	b, err := json.MarshalIndent(history, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	fsm.Golden(t, filepath.Join("testdata", "log-v1-history.json"), append(b, '\n'))

	for mid := 1; mid < len(logs); mid++ {
		first := fsm.New()
		rejected := replay(first, logs[:mid])
		snap, err := first.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		restored := fsm.New()
		if err := restored.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatalf("restore of the snapshot at index %d: %v", logs[mid-1].Index, err)
		}
		got := replayResult{Rejected: slices.Concat(rejected, replay(restored, logs[mid:])), State: restored.State()}
		if diff := cmp.Diff(want, got, sameAsV1); diff != "" {
			t.Fatalf("replay through a snapshot at index %d (-want +got):\n%s", logs[mid-1].Index, diff)
		}
		if diff := cmp.Diff(history, got.State.History); diff != "" {
			t.Fatalf("history replayed through a snapshot at index %d (-from the start +through it):\n%s", logs[mid-1].Index, diff)
		}
	}
}
