package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen opens a unixgram socket standing in for systemd's, and returns its
// name as $NOTIFY_SOCKET would hold it and a function that reads one datagram.
func listen(t *testing.T, name string) func() string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen %s: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read notification: %v", err)
		}
		return string(buf[:n])
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMessagesArriveOnPathSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	read := listen(t, path)
	n := New(env(map[string]string{"NOTIFY_SOCKET": path}))
	n.now = func() time.Duration { return 1234567 * time.Microsecond }
	for _, c := range []struct {
		send func() error
		want string
	}{
		{n.Ready, "READY=1\n"},
		{func() error { return n.Status("leader, holds 192.0.2.100/24\nsecond line") },
			"STATUS=leader, holds 192.0.2.100/24 second line\n"},
		{n.Watchdog, "WATCHDOG=1\n"},
		{n.Reloading, "RELOADING=1\nMONOTONIC_USEC=1234567\n"},
		{n.Stopping, "STOPPING=1\n"},
	} {
		if err := c.send(); err != nil {
			t.Fatalf("send %q: %v", c.want, err)
		}
		if got := read(); got != c.want {
			t.Errorf("datagram = %q, want %q", got, c.want)
		}
	}
}

func TestAbstractSocket(t *testing.T) {
	name := fmt.Sprintf("@raftvip-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	read := listen(t, name)
	n := New(env(map[string]string{"NOTIFY_SOCKET": name}))
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "READY=1\n" {
		t.Fatalf("datagram = %q", got)
	}
}

func TestReloadingUsesTheMonotonicClock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	read := listen(t, path)
	n := New(env(map[string]string{"NOTIFY_SOCKET": path}))
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	got := read()
	v, ok := strings.CutPrefix(strings.TrimSuffix(got, "\n"), "RELOADING=1\nMONOTONIC_USEC=")
	us, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || us <= 0 {
		t.Fatalf("datagram = %q, want RELOADING=1 and a positive MONOTONIC_USEC", got)
	}
}

func TestNoSocketIsANoOp(t *testing.T) {
	n := New(env(nil))
	if n.Enabled() {
		t.Fatal("Enabled without NOTIFY_SOCKET")
	}
	for _, f := range []func() error{n.Ready, n.Stopping, n.Reloading, n.Watchdog, func() error { return n.Status("x") }} {
		if err := f(); err != nil {
			t.Errorf("without NOTIFY_SOCKET: %v, want nil", err)
		}
	}
	var zero *Notifier
	if err := zero.Ready(); err != nil {
		t.Errorf("nil Notifier: %v", err)
	}
}

func TestErrorsNameTheSocket(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	for _, sock := range []string{missing, "relative/notify"} {
		err := New(env(map[string]string{"NOTIFY_SOCKET": sock})).Ready()
		if err == nil || !strings.Contains(err.Error(), sock) {
			t.Errorf("NOTIFY_SOCKET=%s: err = %v, want one naming the socket", sock, err)
		}
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"", "", 0, false},
		{"10000000", "", 10 * time.Second, true},
		{"10000000", me, 10 * time.Second, true},
		{"10000000", "1", 0, false}, // meant for another process
		{"10000000", "x", 0, false},
		{"0", "", 0, false},
		{"-5", "", 0, false},
		{"ten", "", 0, false},
		{"99999999999999999999", "", 0, false},
	} {
		n := New(env(map[string]string{"WATCHDOG_USEC": c.usec, "WATCHDOG_PID": c.pid}))
		got, ok := n.WatchdogInterval()
		if got != c.want || ok != c.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v, want %v %v", c.usec, c.pid, got, ok, c.want, c.ok)
		}
	}
}
