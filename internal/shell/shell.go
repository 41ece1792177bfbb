// Package shell runs a command line with /bin/sh -c the way health checks
// and notify hooks need it: in its own process group, killed as a group when
// its context ends, with a short tail of its output kept for the log.
package shell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tailSize bounds the output kept from a command: enough for an error line,
// small enough that a chatty script cannot bloat logs or memory.
const tailSize = 512

// waitDelay bounds how long Run waits for the output pipe to close after the
// shell exited. A process the command left running in the background (a
// notify script starting a service) may hold the pipe for ever.
const waitDelay = time.Second

// managerVars are the service manager's variables addressed to the agent
// itself (sd_notify(3), sd_watchdog_enabled(3)). A command that saw them could
// send READY=1 or WATCHDOG=1 for the agent, or, running a raftvip command, its
// own sdnotify would think it was the service. They are never passed on.
var managerVars = []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"}

// Run runs cmdline with /bin/sh -c and env in a new process group. When ctx
// ends first, the whole group is killed (so a hung script's children die too)
// and the error wraps ctx.Err(). out is the trimmed tail of the combined
// stdout and stderr. A non-zero exit is an *exec.ExitError in the chain.
// A nil env is this process's environment, as in os/exec; either way the
// service manager's variables (managerVars) are left out.
func Run(ctx context.Context, cmdline string, env []string) (out string, err error) {
	var tail tailWriter
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	cmd.Env = childEnv(env)
	cmd.Stdout = &tail
	cmd.Stderr = &tail
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// With Setpgid the group ID is the shell's PID; -pid names the group.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = waitDelay
	err = cmd.Run()
	out = tail.String()
	switch {
	case errors.Is(err, exec.ErrWaitDelay):
		// The shell exited 0; only a background process kept the pipe open.
		return out, nil
	case err != nil && ctx.Err() != nil:
		return out, fmt.Errorf("killed: %w", ctx.Err())
	}
	return out, err
}

// childEnv is env (nil: os.Environ()) without managerVars, in a new slice:
// the caller's must not change.
func childEnv(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(managerVars, name) {
			out = append(out, kv)
		}
	}
	return out
}

// tailWriter keeps the last tailSize bytes written to it. exec calls Write
// from one goroutine at a time because Stdout and Stderr are the same value,
// but String may race with a late write after WaitDelay, hence the mutex.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if over := len(w.buf) - tailSize; over > 0 {
		w.buf = append(w.buf[:0], w.buf[over:]...)
	}
	return len(p), nil
}

// String returns the tail on one line: logs and API fields stay one line.
func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(strings.Fields(string(w.buf)), " ")
}
