package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftvip/raftvip/cluster"
)

// TestRecoverCommand: `raftvip recover` on a stopped node's data dir makes the
// members given its Raft configuration and keeps its VIPs; the node then
// starts and leads them alone. While a node holds the data dir it refuses.
func TestRecoverCommand(t *testing.T) {
	a := mustVIP(t, "192.0.2.100/24")
	dir := writeDataDir(t, a)
	const self = "192.0.2.11:7000"
	args := []string{"recover", "-data-dir", dir, "-id", "n1", "-raft-addr", self}

	code, out, errOut := runCmd(append(args, "-members", "n1="+self+",n2=192.0.2.12:7000")...)
	if code != 0 || !strings.Contains(out, "the voters were n1, they are now n1 n2") || !strings.Contains(out, a.String()) {
		t.Fatalf("recover to n1 n2: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = runCmd(append(args, "-members", "n1="+self)...)
	if code != 0 || !strings.Contains(out, "the voters were n1 n2, they are now n1") {
		t.Fatalf("recover to n1: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	timing, err := cluster.Profile("fast")
	if err != nil {
		t.Fatal(err)
	}
	_, trans := raft.NewInmemTransport(self)
	n, err := cluster.Open(cluster.Config{ID: "n1", APIAddr: "api-n1", DataDir: dir, Timing: timing, Transport: trans})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for st := n.Status(); !st.Holder || len(st.Members) != 1 || st.Members[0].RaftAddr != self || len(st.VIPs) != 1; st = n.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("the recovered node does not hold its VIP alone: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}

	code, out, errOut = runCmd(append(args, "-members", "n1="+self)...)
	if code != 1 || !strings.Contains(errOut, "refusing: an agent still runs on "+dir) {
		t.Fatalf("recover while the node runs: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestRecoverUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"recover", "-data-dir", dir, "-raft-addr", "192.0.2.11:7000"}, 2, "-members is required"},
		{[]string{"recover", "-data-dir", dir, "-raft-addr", "192.0.2.11:7000", "-members", "n1"}, 2, "want id=raft-address"},
		{[]string{"recover", "-data-dir", dir, "-members", "n1=192.0.2.11:7000"}, 2, "Raft address is unknown"},
		{[]string{"recover", "-data-dir", dir, "-id", "n1", "-raft-addr", "192.0.2.11:7000", "-members", "n1=192.0.2.11:7000"},
			1, "nothing to recover"},
		{[]string{"recover", "-data-dir", dir, "-id", "n1", "-raft-addr", "192.0.2.11:7000", "-members", "n2=192.0.2.12:7000"},
			1, "not among the members"},
	} {
		code, _, errOut := runCmd(c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
