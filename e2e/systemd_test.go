package e2e

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a stand-in for systemd's notification socket: it records
// every assignment ("STATUS=leader (term 2), holds ...") of every datagram
// the agent sends, one per line as sd_notify separates them.
type notifySocket struct {
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, path string) *notifySocket {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	s := &notifySocket{conn: conn}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			for line := range strings.Lines(string(buf[:n])) {
				if line = strings.TrimSuffix(line, "\n"); line != "" {
					s.msgs = append(s.msgs, line)
				}
			}
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return s
}

// with lists the messages that start with prefix ("READY=1", "STATUS=").
func (s *notifySocket) with(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.msgs {
		if strings.HasPrefix(m, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// count is how many messages start with prefix.
func (s *notifySocket) count(prefix string) int { return len(s.with(prefix)) }

func (s *notifySocket) has(prefix string, atLeast int) func() error {
	return func() error {
		if n := s.count(prefix); n < atLeast {
			return fmt.Errorf("%d %s messages, want %d or more", n, prefix, atLeast)
		}
		return nil
	}
}

// TestSystemdNotify: run under a stand-in for systemd (Type=notify,
// WatchdogSec), the holder says READY=1 once it leads, a STATUS= line naming
// its role, feeds the watchdog, says RELOADING=1 then READY=1 again on
// SIGHUP, and STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	e := newEnv(t)
	sock := listenNotify(t, filepath.Join(e.lab.Dir(), "notify.sock"))
	e.c.Env = func(i int) []string {
		if i != 1 {
			return nil
		}
		return []string{"NOTIFY_SOCKET=" + filepath.Join(e.lab.Dir(), "notify.sock"), "WATCHDOG_USEC=2000000"}
	}
	if h := e.startCluster(); h != 1 {
		t.Logf("n%d holds the VIP; n1 runs under the stand-in", h)
	}
	e.await("READY=1", settle, sock.has("READY=1", 1))
	e.await("a STATUS= line naming the role", settle, func() error {
		lines := sock.with("STATUS=")
		for _, l := range lines {
			if strings.HasPrefix(l, "STATUS=leader ") || strings.HasPrefix(l, "STATUS=follower ") {
				return nil
			}
		}
		return fmt.Errorf("no STATUS= line starts with the role (leader or follower): %q", lines)
	})
	e.await("the watchdog fed", settle, sock.has("WATCHDOG=1", 3))

	ready := sock.count("READY=1")
	e.signal(1, syscall.SIGHUP)
	e.await("RELOADING=1 on SIGHUP", settle, sock.has("RELOADING=1", 1))
	e.await("READY=1 after the reload", settle, sock.has("READY=1", ready+1))

	e.signal(1, syscall.SIGTERM)
	if code := e.exited(e.c.Proc(1)); code != 0 {
		t.Fatalf("n1 exited %d after SIGTERM: %s", code, e.lastLine(1))
	}
	e.await("STOPPING=1 on SIGTERM", time.Second, sock.has("STOPPING=1", 1))
}
