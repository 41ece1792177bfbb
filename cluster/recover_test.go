package cluster

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
)

// TestRecoverLostQuorum: a node whose configuration names three voters, two
// of them gone for good, cannot be elected; after Recover with itself as the
// only member it is, and it keeps its VIPs.
func TestRecoverLostQuorum(t *testing.T) {
	dir := t.TempDir()
	a, b := vip("192.0.2.100/24"), vip("192.0.2.101/24")
	runDisk(t, dir, true, fsm.SeedVIPs([]fsm.VIP{a}), fsm.AddVIP(b))
	self := Peer{ID: "n1", RaftAddr: "n1"} // diskConfig's in-memory address
	trio := []Peer{self, {ID: "n2", RaftAddr: "n2"}, {ID: "n3", RaftAddr: "n3"}}

	// The lost-quorum situation: n2 and n3 in the configuration, never there.
	got, err := Recover(dir, self, trio, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Before, []string{"n1"}) || !slices.Equal(got.After, []string{"n1", "n2", "n3"}) {
		t.Fatalf("recovered %v to %v, want [n1] to [n1 n2 n3]", got.Before, got.After)
	}
	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if st := n.Status(); len(st.Members) != 3 || !st.HasState {
		t.Fatalf("after recovery to three voters: members %v, has_state %v", st.Members, st.HasState)
	}
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The recovery proper.
	got, err = Recover(dir, self, []Peer{self}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Before, []string{"n1", "n2", "n3"}) || !slices.Equal(got.After, []string{"n1"}) {
		t.Fatalf("recovered %v to %v, want [n1 n2 n3] to [n1]", got.Before, got.After)
	}
	if !sameVIPs(got.State.VIPs, []fsm.VIP{a, b}) {
		t.Fatalf("recovered state has VIPs %v, want %v", got.State.VIPs, []fsm.VIP{a, b})
	}
	n, err = Open(diskConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, testutil.WaitLimit, "the survivor to lead alone and hold its VIPs", func() bool {
		st := n.Status()
		return st.Holder && len(st.Members) == 1 && sameVIPs(st.VIPs, []fsm.VIP{a, b})
	})
	if err := n.Apply(ctx, fsm.RemoveVIP(b.Prefix.Addr())); err != nil {
		t.Fatalf("a write after recovery: %v", err)
	}

	// While the node holds the data dir, Recover refuses and changes nothing.
	if _, err := Recover(dir, self, trio, nil); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("Recover while the node runs = %v, want ErrDataDirInUse", err)
	}
	if st := n.Status(); len(st.Members) != 1 {
		t.Fatalf("members after a refused Recover: %v", st.Members)
	}
}

func TestRecoverRefuses(t *testing.T) {
	self := Peer{ID: "n1", RaftAddr: "n1"}
	empty := t.TempDir()
	if _, err := Recover(empty, self, []Peer{self}, nil); err == nil || !strings.Contains(err.Error(), "nothing to recover") {
		t.Errorf("Recover of an empty data dir = %v, want nothing to recover", err)
	}
	dir := t.TempDir()
	runDisk(t, dir, false)
	for _, c := range []struct {
		members []Peer
		want    string
	}{
		{[]Peer{{ID: "n2", RaftAddr: "n2"}}, "not among the members"},
		{[]Peer{{ID: "n1", RaftAddr: "elsewhere"}}, "this node's is n1"},
		{[]Peer{self, {ID: "n2", RaftAddr: "n1"}}, "listed twice"},
		{[]Peer{self, {ID: "n2"}}, "want id=raft-address"},
	} {
		if _, err := Recover(dir, self, c.members, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Recover with %v = %v, want an error with %q", c.members, err, c.want)
		}
	}
}
