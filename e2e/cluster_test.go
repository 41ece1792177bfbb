package e2e

import (
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// TestBootstrapAndJoin: n1 bootstraps with the VIP, n2 and n3 join. Every node
// sees three voters, exactly one holds the VIP and says so on /v1/leader (503
// on the others), and the client reaches the VIP at the holder's MAC.
func TestBootstrapAndJoin(t *testing.T) {
	e := newEnv(t)
	h := e.startCluster()
	for i := 1; i <= 3; i++ {
		e.await(fmt.Sprintf("n%d sees three voters", i), settle, func() error { return e.voters(i, 3) })
	}
	if err := e.holdersAre(vip, h); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		want := http.StatusServiceUnavailable
		if i == h {
			want = http.StatusOK
		}
		if code, err := e.leaderCode(i); err != nil || code != want {
			t.Errorf("n%d: /v1/leader = %d (%v), want %d", i, code, err, want)
		}
	}
	e.await("the client reaches the VIP at the holder", settle, func() error { return e.answeredBy(vip, h) })
	if err := e.neighIs(vip, h); err != nil {
		t.Error(err)
	}
}

// TestWholeClusterRestart: every agent stops with SIGTERM and starts again with
// neither -bootstrap nor -join (nor -vip). Membership and the VIP set, one VIP
// of it added through the API, survive, and exactly one node holds the VIPs.
func TestWholeClusterRestart(t *testing.T) {
	e := newEnv(t)
	e.startCluster()
	const added = "192.0.2.101/24"
	e.cli(2, "vip", "add", added)
	e.await("the VIP set on every node", settle, func() error {
		for i := 1; i <= 3; i++ {
			if err := e.hasVIPs(i, vipPrefix.String(), added); err != nil {
				return err
			}
		}
		return nil
	})

	stopAt := time.Now()
	for i := 1; i <= 3; i++ {
		e.signal(i, syscall.SIGTERM)
	}
	for i := 1; i <= 3; i++ {
		if code := e.exited(e.c.Proc(i)); code != 0 {
			t.Errorf("n%d exited with %d after SIGTERM, want 0: %s", i, code, e.lastLine(i))
		}
	}
	t.Logf("measured: all three agents exited %v after SIGTERM", since(stopAt))
	if err := e.holdersAre(vip); err != nil {
		t.Errorf("after every agent stopped: %v", err)
	}

	for i := 1; i <= 3; i++ {
		e.start(i)
	}
	h := e.waitHolder(vip, 0)
	e.await("the restarted holder binds both VIPs", settle, func() error { return e.holds(h, vip, addrOf(added)) })
	for i := 1; i <= 3; i++ {
		e.await(fmt.Sprintf("n%d after restart", i), settle, func() error {
			if err := e.voters(i, 3); err != nil {
				return err
			}
			return e.hasVIPs(i, vipPrefix.String(), added)
		})
		if i != h {
			e.await(fmt.Sprintf("n%d follows n%d", i, h), settle, func() error { return e.follows(i, h, vip) })
		}
	}
	e.await("the client reaches the VIP after the restart", settle, func() error { return e.answeredBy(vip, h) })
	t.Logf("after the restart %s holds the VIPs", lab.NodeName(h))
}
