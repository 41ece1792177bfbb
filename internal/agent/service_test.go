package agent

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/sdnotify"
	"github.com/raftvip/raftvip/internal/testutil"
)

func TestWatchdogHealthy(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	const interval = 5 * time.Second
	for _, c := range []struct {
		name string
		last time.Time
		want bool
	}{
		{"no pass yet", time.Time{}, false},
		{"pass just now", now, true},
		{"pass 1s ago (one reconciler period)", now.Add(-time.Second), true},
		{"pass half the interval ago", now.Add(-interval / 2), false},
		{"wedged for 4s", now.Add(-4 * time.Second), false},
	} {
		if got := watchdogHealthy(now, c.last, interval); got != c.want {
			t.Errorf("%s: watchdogHealthy = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStatusLine(t *testing.T) {
	v := fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24")}
	for _, c := range []struct {
		st   cluster.Status
		want string
	}{
		{cluster.Status{State: "Leader", Term: 4, LeaderID: "n1", Holder: true, VIPs: []fsm.VIP{v}},
			"leader (term 4), holds 192.0.2.100/24"},
		{cluster.Status{State: "Leader", Term: 4, LeaderID: "n1", Holder: true}, "leader (term 4), holds no VIPs (none configured)"},
		{cluster.Status{State: "Leader", Term: 4, LeaderID: "n1"}, "leader (term 4), claim not committed yet: holds nothing"},
		{cluster.Status{State: "Follower", Term: 4, LeaderID: "n2"}, "follower of n2 (term 4), holds nothing"},
		{cluster.Status{State: "Candidate", Term: 9}, "candidate (term 9), no leader known (no quorum?): holds nothing"},
	} {
		if got := statusLine(c.st); got != c.want {
			t.Errorf("statusLine(%+v) = %q, want %q", c.st, got, c.want)
		}
	}
}

// notifySocket listens where $NOTIFY_SOCKET points and collects datagrams.
type notifySocket struct {
	path string
	conn *net.UnixConn
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{path: path, conn: conn}
}

// next returns the next datagram, or "" if none comes within wait.
func (s *notifySocket) next(wait time.Duration) string {
	buf := make([]byte, 4096)
	_ = s.conn.SetReadDeadline(time.Now().Add(wait))
	n, err := s.conn.Read(buf)
	if err != nil {
		return ""
	}
	return string(buf[:n])
}

// waitFor reads datagrams until one equals want, or fails after a deadline.
func (s *notifySocket) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if s.next(time.Until(deadline)) == want {
			return
		}
	}
	t.Fatalf("no %q on the notify socket", want)
}

func runService(t *testing.T, sock *notifySocket, lastPass func() time.Time) {
	t.Helper()
	svc := newService(sdnotify.New(env(map[string]string{"NOTIFY_SOCKET": sock.path, "WATCHDOG_USEC": "400000"})), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		svc.run(ctx, lastPass, func() cluster.Status { return cluster.Status{State: "Follower", LeaderID: "n2"} })
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func TestServiceFeedsWatchdogWhileReconcilerPasses(t *testing.T) {
	sock := newNotifySocket(t)
	runService(t, sock, time.Now) // a reconciler that has always just passed
	sock.waitFor(t, "STATUS=follower of n2 (term 0), holds nothing\n")
	sock.waitFor(t, "WATCHDOG=1\n")
}

func TestServiceStarvesWatchdogWhenReconcilerIsStuck(t *testing.T) {
	sock := newNotifySocket(t)
	var calls atomic.Int32
	stuck := time.Now().Add(-time.Minute)
	runService(t, sock, func() time.Time { calls.Add(1); return stuck })
	// A look at lastPass comes after the previous look's ping, if any: after
	// three looks, the pings of the first two would be in the socket.
	testutil.Eventually(t, testutil.WaitLimit, "the watchdog loop to look at the reconciler three times",
		func() bool { return calls.Load() >= 3 })
	for msg := sock.next(50 * time.Millisecond); msg != ""; msg = sock.next(50 * time.Millisecond) {
		if strings.Contains(msg, "WATCHDOG=1") {
			t.Fatalf("fed the watchdog although the reconciler's last pass is a minute old: %q", msg)
		}
	}
}

func TestServiceOutsideSystemdDoesNothing(t *testing.T) {
	svc := newService(sdnotify.New(env(nil)), slog.New(slog.DiscardHandler))
	done := make(chan struct{})
	go func() {
		svc.run(context.Background(), time.Now, func() cluster.Status { return cluster.Status{} })
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("run without NOTIFY_SOCKET did not return")
	}
	svc.ready()
	svc.stopping()
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
