package shell

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRunExitStatus(t *testing.T) {
	out, err := Run(context.Background(), "echo hello; echo oops >&2; exit 3", nil)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("err = %v, want exit status 3", err)
	}
	if out != "hello oops" {
		t.Errorf("out = %q, want %q", out, "hello oops")
	}
	if _, err := Run(context.Background(), "true", nil); err != nil {
		t.Errorf("true: %v", err)
	}
}

func TestRunEnv(t *testing.T) {
	out, err := Run(context.Background(), `echo "$A-$B"`, []string{"A=1", "B=two"})
	if err != nil || out != "1-two" {
		t.Fatalf("out, err = %q, %v; want 1-two", out, err)
	}
}

// A check or hook must not see the socket and watchdog systemd gave the
// agent: it could report READY=1 or feed the watchdog in the agent's name.
func TestRunDropsServiceManagerVars(t *testing.T) {
	env := []string{"NOTIFY_SOCKET=/run/systemd/notify", "A=1", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=42", "NOTIFY_SOCKETX=kept"}
	out, err := Run(context.Background(), `echo "[$NOTIFY_SOCKET][$WATCHDOG_USEC][$WATCHDOG_PID][$A][$NOTIFY_SOCKETX]"; env | grep -c -e ^NOTIFY_SOCKET= -e ^WATCHDOG_`, env)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) { // grep -c exits 1 when it counts 0
		t.Fatal(err)
	}
	if out != "[][][][1][kept] 0" {
		t.Errorf("out = %q, want the three variables gone and the others kept", out)
	}
	if env[0] != "NOTIFY_SOCKET=/run/systemd/notify" || len(env) != 5 {
		t.Errorf("Run changed the caller's env: %q", env)
	}
	// nil is the agent's own environment, as in os/exec, minus the three.
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("RAFTVIP_SHELL_TEST", "inherited")
	if out, err := Run(context.Background(), `echo "[$NOTIFY_SOCKET][$RAFTVIP_SHELL_TEST]"`, nil); err != nil || out != "[][inherited]" {
		t.Errorf("nil env: out, err = %q, %v; want [][inherited]", out, err)
	}
}

func TestRunKeepsTail(t *testing.T) {
	out, err := Run(context.Background(), "seq 1 2000", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > tailSize || !strings.HasSuffix(out, "1999 2000") {
		t.Errorf("out = %d bytes ending %q, want at most %d ending in 2000", len(out), out[max(0, len(out)-20):], tailSize)
	}
}

// A hung script is killed with its children when the context ends.
func TestRunTimeoutKillsGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, "sleep 30 & echo $! > "+pidFile+"; wait", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background child %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A command that leaves a process running in the background and exits 0
// succeeds, although that process keeps the output pipe open.
func TestRunBackgroundChildIsSuccess(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	_, err := Run(context.Background(), "sleep 30 & echo $! > "+pidFile, nil)
	if b, rerr := os.ReadFile(pidFile); rerr == nil {
		if pid, aerr := strconv.Atoi(strings.TrimSpace(string(b))); aerr == nil {
			t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
		}
	}
	if err != nil {
		t.Fatalf("err = %v, want nil", err)
	}
}

// alive reports whether pid exists and is not a zombie (an orphan may wait
// for a reaper that a container's init does not run promptly).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
