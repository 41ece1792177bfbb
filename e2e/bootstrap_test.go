package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// formArgs are the flags of examples/three-node/nX.yaml that every node has
// alike: the same bootstrap-expect, the same join list naming all three
// members, and the same seed VIP.
func (e *env) formArgs() []string {
	return []string{"-bootstrap-expect", "3", "-join", e.c.JoinAddrs(0), "-vip", vipPrefix.String()}
}

// formCluster is docs/operations.md section 2: every node started with
// formArgs, in any order. It returns the holder once every node sees the
// three voters and one node holds the VIP.
func (e *env) formCluster() int {
	e.t.Helper()
	for i := 1; i <= 3; i++ {
		e.start(i, e.formArgs()...)
	}
	h := e.waitHolder(vip, 0)
	for i := 1; i <= 3; i++ {
		e.await(fmt.Sprintf("n%d sees 3 voters", i), settle, func() error { return e.voters(i, 3) })
	}
	return h
}

// systemctlStop is `systemctl stop raftvip` on node i: SIGTERM, and the
// agent exits 0.
func (e *env) systemctlStop(i int) {
	e.t.Helper()
	e.signal(i, syscall.SIGTERM)
	if code := e.exited(e.c.Proc(i)); code != 0 {
		e.t.Fatalf("n%d exited with %d after SIGTERM: %s", i, code, e.lastLine(i))
	}
}

// emptyDataDir is `rm -rf /var/lib/raftvip/*` on node i.
func (e *env) emptyDataDir(i int) {
	e.t.Helper()
	dir := e.c.DataDir(i)
	entries, err := os.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range entries {
		if err := os.RemoveAll(filepath.Join(dir, d.Name())); err != nil {
			e.t.Fatal(err)
		}
	}
}

// logSize and logSince read node i's log from an offset on, so that a test
// can check what a restarted agent logged.
func (e *env) logSize(i int) int64 {
	e.t.Helper()
	fi, err := os.Stat(e.lab.LogPath(i))
	if err != nil {
		e.t.Fatal(err)
	}
	return fi.Size()
}

func (e *env) logSince(i int, off int64) string {
	e.t.Helper()
	b, err := os.ReadFile(e.lab.LogPath(i))
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b[off:])
}

// oneCluster waits until every node in nodes sees exactly want as voters and
// the same leader.
func (e *env) oneCluster(want []string, nodes ...int) {
	e.t.Helper()
	e.await(fmt.Sprintf("%v see the voters %v and one leader", names(nodes), want), settle, func() error {
		leader := ""
		for _, i := range nodes {
			st, err := e.status(i)
			if err != nil {
				return err
			}
			if v := st.Voters(); strings.Join(v, ",") != strings.Join(want, ",") {
				return fmt.Errorf("n%d sees voters %v", i, v)
			}
			if st.LeaderID == "" || leader != "" && st.LeaderID != leader {
				return fmt.Errorf("n%d follows %q, another node %q", i, st.LeaderID, leader)
			}
			leader = st.LeaderID
		}
		return nil
	})
}

// noTwoHolders fails the test if w ever saw two nodes hold the VIP.
func (e *env) noTwoHolders(w *holderWatch) {
	e.t.Helper()
	if most, err := w.stop(); err != nil {
		e.t.Error(err)
	} else if most > 1 {
		e.t.Errorf("%d nodes held %s at once", most, vip)
	}
}

// TestBootstrapLeftOnRejoins: n1 keeps bootstrap: true in its config, with a
// join list naming n2 and n3. Stopped, its data dir emptied and started
// again, it asks n2 and n3 first, finds members, and joins their cluster
// instead of bootstrapping a second one: the client never sees two holders.
func TestBootstrapLeftOnRejoins(t *testing.T) {
	e := newEnv(t)
	e.start(1, "-bootstrap", "-join", e.c.JoinAddrs(1), "-vip", vipPrefix.String())
	e.await("n1 bootstraps and holds", settle, func() error { return e.holds(1, vip) })
	e.start(2, "-join", e.c.JoinAddrs(2))
	e.start(3, "-join", e.c.JoinAddrs(3))
	e.oneCluster([]string{"n1", "n2", "n3"}, 1, 2, 3)
	h := e.waitHolder(vip, 0)
	p := e.probe(vip, h)
	w := e.watchHolders(vip)

	e.systemctlStop(1)
	e.emptyDataDir(1)
	off := e.logSize(1)
	e.restart(1) // -bootstrap, as before
	e.oneCluster([]string{"n1", "n2", "n3"}, 1, 2, 3)
	if log := e.logSince(1, off); strings.Contains(log, "bootstrapped a new cluster") ||
		!strings.Contains(log, "joining it, not bootstrapping a new cluster") {
		t.Errorf("n1 restarted with an empty data dir and -bootstrap did not join the running cluster:\n%s", log)
	}
	h = e.waitHolder(vip, 0)
	r := e.stopSteady(p, vip, h)
	t.Logf("measured: n1 rebuilt with bootstrap left on; n%d holds the VIP; %s", h, r)
	e.noDualHolder(r)
	e.noTwoHolders(w)
	if err := e.holdersAre(vip, h); err != nil {
		t.Error(err)
	}
}

// TestBootstrapExpectForms: three nodes started with the same
// -bootstrap-expect 3 and -join list form one cluster of three voters with
// one holder.
func TestBootstrapExpectForms(t *testing.T) {
	e := newEnv(t)
	w := e.watchHolders(vip)
	h := e.formCluster()
	e.oneCluster([]string{"n1", "n2", "n3"}, 1, 2, 3)
	for i := 1; i <= 3; i++ {
		e.await(fmt.Sprintf("n%d to say it bootstrapped the cluster of three or joined it", i), settle, func() error {
			if log := e.logSince(i, 0); !strings.Contains(log, "bootstrapped a new cluster") &&
				!strings.Contains(log, "joined the cluster") {
				return errors.New("neither line in its log yet")
			}
			return nil
		})
	}
	e.noTwoHolders(w)
	if err := e.holdersAre(vip, h); err != nil {
		t.Error(err)
	}
}

// TestOperationsRebuildNode follows docs/operations.md section 5, "Rebuild a
// node", step by step, for n1.
func TestOperationsRebuildNode(t *testing.T) {
	e := newEnv(t)
	e.formCluster() // section 2
	p := e.probe(vip, e.waitHolder(vip, 0))
	w := e.watchHolders(vip)

	// 1. systemctl stop raftvip on n1 (a leader hands over first).
	e.systemctlStop(1)
	e.waitHolder(vip, 1)
	// 2. raftvip leave n1 -addr 192.0.2.12:8080 -token-file /etc/raftvip/token
	if out := e.cli(2, "leave", "n1"); !strings.Contains(out, "left") {
		t.Errorf("raftvip leave n1 said %q", out)
	}
	// 3. rm -rf /var/lib/raftvip/* on n1.
	e.emptyDataDir(1)
	// 4. systemctl start raftvip on n1.
	off := e.logSize(1)
	e.restart(1)
	// 5. raftvip status -addr 192.0.2.12:8080: three voters, one leader.
	e.oneCluster([]string{"n1", "n2", "n3"}, 1, 2, 3)
	if out := e.cli(2, "status"); !strings.Contains(out, "n1") || strings.Contains(out, "NONE") {
		t.Errorf("raftvip status after the rebuild:\n%s", out)
	}
	// The join loop may still be retrying its first refused attempt when the
	// others already list n1: wait for its own word.
	e.await("the rebuilt n1 to say it joined", settle, func() error {
		if log := e.logSince(1, off); !strings.Contains(log, "joined the cluster") {
			return errors.New("no \"joined the cluster\" in its log yet")
		}
		return nil
	})

	h := e.waitHolder(vip, 0)
	r := e.stopSteady(p, vip, h)
	e.noDualHolder(r)
	e.noTwoHolders(w)
}

// TestOperationsReplaceNode follows docs/operations.md section 5, "Replace a
// dead node": n3's host is gone for good and n4 takes its place.
func TestOperationsReplaceNode(t *testing.T) {
	e := newEnv(t)
	e.formCluster() // section 2
	p := e.probe(vip, e.waitHolder(vip, 0))
	w := e.watchHolders(vip)

	// n3's host is gone (off the LAN, never to come back).
	if err := e.lab.HostDown(e.ctx, 3); err != nil {
		t.Fatal(err)
	}
	e.waitHolder(vip, 3)
	// 1. raftvip leave n3 -addr 192.0.2.11:8080 -token-file /etc/raftvip/token
	if out := e.cli(1, "leave", "n3"); !strings.Contains(out, "left") {
		t.Errorf("raftvip leave n3 said %q", out)
	}
	// 2. Install n4 with an empty data dir and a config like n3.yaml with its
	// own id and addresses, join naming n1, n2 and n4, bootstrap-expect 3.
	n4, err := e.lab.AddNode(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	join := strings.Join([]string{e.c.APIAddr(1), e.c.APIAddr(2), e.c.APIAddr(n4)}, ",")
	// 3. systemctl enable --now raftvip on n4.
	e.start(n4, "-bootstrap-expect", "3", "-join", join, "-vip", vipPrefix.String())
	// 4. raftvip status -addr 192.0.2.11:8080: n1, n2 and n4 voters, one leader.
	e.oneCluster([]string{"n1", "n2", lab.NodeName(n4)}, 1, 2, n4)
	// 5. The join lists of n1 and n2 name n4 instead of n3: read only on a
	// first start, so nothing changes in the running agents.

	h := e.waitHolder(vip, 0)
	r := e.stopSteady(p, vip, h)
	e.noDualHolder(r)
	e.noTwoHolders(w)
}

// TestOperationsRecoverQuorum follows docs/operations.md section 8, "Recover
// lost quorum": n2 and n3 are lost for good, n1 survives.
func TestOperationsRecoverQuorum(t *testing.T) {
	e := newEnv(t)
	e.formCluster() // section 2
	p := e.probe(vip, e.waitHolder(vip, 0))
	w := e.watchHolders(vip)

	// 1. n2 and n3 cannot come back with their data: stop and empty them.
	for _, i := range []int{2, 3} {
		e.systemctlStop(i)
		e.emptyDataDir(i)
	}
	// How lost quorum looks: nobody holds the VIP.
	e.await("no node holds the VIP without quorum", settle, func() error { return e.holdersAre(vip) })
	// 2. systemctl stop raftvip on n1.
	e.systemctlStop(1)
	// 3. raftvip recover -config /etc/raftvip/raftvip.yaml -members n1=192.0.2.11:7000
	raft1 := netip.AddrPortFrom(e.lab.NodeIP(1), rig.RaftPort).String()
	conf := filepath.Join(e.lab.Dir(), "n1.yaml")
	yaml := fmt.Sprintf("id: n1\nraft-addr: %s\nhttp-addr: %s\ndata-dir: %s\n", raft1, e.c.APIAddr(1), e.c.DataDir(1))
	if err := os.WriteFile(conf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.lab.Exec(e.ctx, e.lab.NodeNS(1), bins.raftvip, "recover", "-config", conf, "-members", "n1="+raft1)
	if err != nil || !strings.Contains(out, "the voters were n1 n2 n3, they are now n1") {
		t.Fatalf("raftvip recover: %v\n%s", err, out)
	}
	// 4. systemctl start raftvip on n1: it elects itself and holds the VIP.
	e.restart(1)
	if h := e.waitHolder(vip, 0); h != 1 {
		t.Fatalf("n%d holds the VIP after the recovery, want n1", h)
	}
	// 5. n2 and n3 back with empty data dirs and their configs: they join n1.
	e.restart(2)
	e.restart(3)
	// 6. raftvip status -addr 192.0.2.11:8080: three voters, one leader.
	e.oneCluster([]string{"n1", "n2", "n3"}, 1, 2, 3)

	h := e.waitHolder(vip, 0)
	r := e.stopSteady(p, vip, h)
	e.noDualHolder(r)
	e.noTwoHolders(w)
}
