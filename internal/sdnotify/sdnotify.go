// Package sdnotify speaks systemd's sd_notify protocol (sd_notify(3)): one
// datagram of NAME=value lines to the unix socket named by $NOTIFY_SOCKET. It
// uses the standard library only. Outside systemd, where $NOTIFY_SOCKET is
// unset, every call does nothing, so the daemon needs no special case.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// Notifier sends state changes to the service manager. The zero value, and a
// Notifier built from an environment without $NOTIFY_SOCKET, is a no-op.
type Notifier struct {
	socket      string // $NOTIFY_SOCKET: a path, or "@name" for an abstract socket
	watchdogUS  string // $WATCHDOG_USEC
	watchdogPID string // $WATCHDOG_PID
	pid         int
	now         func() time.Duration // CLOCK_MONOTONIC, for RELOADING=1
}

// New reads the protocol's environment through getenv (os.Getenv in
// production). It keeps no package-level state and does not unset the
// variables; health checks and notify hooks do not get them because
// internal/shell.Run, which starts both, leaves them out of the child's
// environment.
func New(getenv func(string) string) *Notifier {
	return &Notifier{
		socket:      getenv("NOTIFY_SOCKET"),
		watchdogUS:  getenv("WATCHDOG_USEC"),
		watchdogPID: getenv("WATCHDOG_PID"),
		pid:         os.Getpid(),
		now:         monotonic,
	}
}

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// Ready says that start-up is complete (Type=notify waits for it).
func (n *Notifier) Ready() error { return n.Send("READY=1") }

// Stopping says that the daemon began to shut down.
func (n *Notifier) Stopping() error { return n.Send("STOPPING=1") }

// Reloading says that a configuration reload began; send Ready when it is
// done. MONOTONIC_USEC is what Type=notify-reload requires since systemd 253;
// older managers ignore it.
func (n *Notifier) Reloading() error {
	if !n.Enabled() {
		return nil
	}
	return n.Send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(n.now().Microseconds(), 10))
}

// Status sets the one-line status that `systemctl status` shows. Line breaks
// would end the field early, so they become spaces.
func (n *Notifier) Status(s string) error {
	return n.Send("STATUS=" + strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s))
}

// Watchdog feeds the watchdog (WatchdogSec= in the unit).
func (n *Notifier) Watchdog() error { return n.Send("WATCHDOG=1") }

// WatchdogInterval returns the watchdog timeout systemd set for this process,
// and false if there is none (unset, malformed, zero, or meant for another
// PID, as after a fork).
func (n *Notifier) WatchdogInterval() (time.Duration, bool) {
	if n == nil || n.watchdogUS == "" {
		return 0, false
	}
	us, err := strconv.ParseInt(n.watchdogUS, 10, 64)
	if err != nil || us <= 0 || us > int64(time.Duration(1<<63-1)/time.Microsecond) {
		return 0, false
	}
	if n.watchdogPID != "" {
		pid, err := strconv.Atoi(n.watchdogPID)
		if err != nil || pid != n.pid {
			return 0, false
		}
	}
	return time.Duration(us) * time.Microsecond, true
}

// Send sends the given NAME=value assignments in one datagram. Without
// $NOTIFY_SOCKET it does nothing and returns nil.
func (n *Notifier) Send(assignments ...string) error {
	if !n.Enabled() {
		return nil
	}
	if len(assignments) == 0 {
		return errors.New("sd_notify: nothing to send")
	}
	// Go's net package maps a leading '@' to the NUL byte of an abstract
	// socket name, which is how systemd writes those in $NOTIFY_SOCKET.
	if !strings.HasPrefix(n.socket, "/") && !strings.HasPrefix(n.socket, "@") {
		return fmt.Errorf("sd_notify: NOTIFY_SOCKET=%q is neither a path nor an abstract name", n.socket)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(assignments, "\n") + "\n")); err != nil {
		return fmt.Errorf("sd_notify %s: %w", n.socket, err)
	}
	return nil
}

// clockMonotonic is CLOCK_MONOTONIC in <linux/time.h>.
const clockMonotonic = 1

// monotonic reads CLOCK_MONOTONIC, the clock systemd compares MONOTONIC_USEC
// with; Go's own monotonic readings have an unspecified origin, and the
// standard library has no clock_gettime wrapper.
func monotonic() time.Duration {
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
