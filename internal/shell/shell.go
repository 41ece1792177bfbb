// Package shell runs a command line with /bin/sh -c the way health checks
// and notify hooks need it: in its own process group, killed as a group when
// its context ends, with a short tail of its output kept for the log.
package shell

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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

// Run runs cmdline with /bin/sh -c and env in a new process group. When ctx
// ends first, the whole group is killed (so a hung script's children die too)
// and the error wraps ctx.Err(). out is the trimmed tail of the combined
// stdout and stderr. A non-zero exit is an *exec.ExitError in the chain.
func Run(ctx context.Context, cmdline string, env []string) (out string, err error) {
	var tail tailWriter
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	cmd.Env = env
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
