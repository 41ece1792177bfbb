package e2e

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// TestObserveStoppedFollower stops a follower of a TLS cluster the way
// systemd does. Its log has no ERROR; the leader's `raftvip status` shows
// it unreachable (not healthy) within 2 s; and the leader's log stays quiet
// while it is down, where raft alone writes about ten lines a second.
func TestObserveStoppedFollower(t *testing.T) {
	e := newEnv(t)
	leader := e.startCluster()
	f := leader%3 + 1
	name := lab.NodeName(f)
	e.await(name+" reachable in the leader's status", settle, func() error {
		return e.reachCell(leader, name, "yes")
	})

	e.signal(f, syscall.SIGTERM)
	if code := e.exited(e.c.Proc(f)); code != 0 {
		t.Fatalf("%s exited with %d after SIGTERM, want 0: %s", name, code, e.lastLine(f))
	}
	stopped := time.Now()
	if errs := e.logLines(f, "level=ERROR"); len(errs) > 0 {
		t.Errorf("%s's log after a clean stop has ERROR lines:\n%s", name, strings.Join(errs, "\n"))
	}

	// Within 2 s of the exit (the leader's first failed heartbeat follows
	// within a heartbeat timeout).
	e.await(name+" unreachable in the leader's status", 2*time.Second, func() error {
		return e.reachCell(leader, name, "NO")
	})
	t.Logf("measured: %s shown unreachable %v after it exited", name, since(stopped))

	const window = 20 * time.Second
	before := len(e.logLines(leader, ""))
	time.Sleep(window)
	grew := len(e.logLines(leader, "")) - before
	if rate := float64(grew) / window.Seconds(); rate >= 3 {
		t.Errorf("the leader's log grew by %d lines in %v with %s down (%.1f/s), want under 3/s; last lines:\n%s",
			grew, window, name, rate, strings.Join(e.logLines(leader, "")[before:], "\n"))
	} else {
		t.Logf("measured: the leader's log grew by %d lines in %v with %s down:\n%s", grew, window, name,
			strings.Join(e.logLines(leader, "")[before:], "\n"))
	}
}

// reachCell checks node i's `raftvip status` row of member id: its
// REACHABLE cell starts with want, and an unreachable member's health
// says so rather than its last report.
func (e *env) reachCell(i int, id, want string) error {
	out, err := e.c.CLI(e.ctx, i, "status")
	if err != nil {
		return err
	}
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != id {
			continue
		}
		switch {
		case want == "NO" && (!strings.Contains(line, " NO") || !strings.Contains(line, "unreachable") ||
			strings.Contains(line, "healthy")):
			return fmt.Errorf("row of %s: %q, want NO, unreachable and no health", id, line)
		case want != "NO" && !strings.Contains(line, " "+want+" "):
			return fmt.Errorf("row of %s: %q, want reachable %q", id, line, want)
		}
		return nil
	}
	return fmt.Errorf("no row for %s in:\n%s", id, out)
}

// logLines returns node i's log lines that contain sub.
func (e *env) logLines(i int, sub string) []string {
	e.t.Helper()
	b, err := os.ReadFile(e.lab.LogPath(i))
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for line := range bytes.Lines(b) {
		if bytes.Contains(line, []byte(sub)) {
			out = append(out, strings.TrimRight(string(line), "\n"))
		}
	}
	return out
}
