package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// ErrStillRunning is returned by Proc.Wait when the process outlives the timeout.
var ErrStillRunning = errors.New("process still running")

// killWait bounds how long Close waits for a SIGKILLed process to be reaped.
const killWait = 5 * time.Second

// Proc is a process the lab started inside a namespace.
type Proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error         // from cmd.Wait, set before done closes
}

// Start runs argv inside node i's namespace, with env added to this process's
// environment. Its stdout and stderr go to LogPath(i). ctx only bounds the
// start: the process runs until it exits, is signalled, or the lab closes.
//
// It runs as `ip netns exec <ns> argv...`, which execs argv in place (no fork,
// outside batch mode), so PID and signals are the program's own.
//
// It runs at niceness AgentNice, as deploy/raftvip.service runs the agent, so
// that the lab's timings are those of a deployed node on a busy host.
func (l *Lab) Start(ctx context.Context, i int, argv []string, env []string) (*Proc, error) {
	return l.StartNice(ctx, i, AgentNice, argv, env)
}

// AgentNice is the niceness of what Start runs: deploy/raftvip.service's
// Nice=.
const AgentNice = -10

// StartNice is Start at niceness nice (-20 to 19), for programs that must not
// run with the agent's priority, such as a CPU hog that plays a busy
// neighbour. nice(1) sets it before it execs argv, so every thread of the
// program has it, and the PID is still the program's.
func (l *Lab) StartNice(ctx context.Context, i, nice int, argv []string, env []string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("start: empty argv")
	}
	argv = append([]string{"nice", "-n", strconv.Itoa(nice)}, argv...)
	return l.startIn(ctx, l.NodeNS(i), NodeName(i), l.LogPath(i), argv, env)
}

// LogPath is the file that collects the output of what Start runs on node i.
func (l *Lab) LogPath(i int) string { return filepath.Join(l.dir, NodeName(i)+".log") }

func (l *Lab) startIn(ctx context.Context, ns, name, logPath string, argv, env []string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, errors.New("start: empty argv")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C on the terminal reaches only us, and
		// we decide how the lab's processes end.
		Setpgid: true,
		// If this process dies without Close (a test timeout panic), the kernel
		// kills the child. See spawner for why the forking thread matters.
		Pdeathsig: syscall.SIGKILL,
	}
	p := &Proc{name: name, cmd: cmd, done: make(chan struct{})}

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		log.Close()
		return nil, ErrClosed
	}
	if err := l.spawner.start(cmd); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s %q: %w", name, argv, err)
	}
	go func() {
		p.err = cmd.Wait()
		log.Close()
		close(p.done)
	}()
	l.procs = append(l.procs, p)
	l.logf("%s: started %q as pid %d", name, argv, cmd.Process.Pid)
	return p, nil
}

// Procs lists every process the lab started (responders included), running or not.
func (l *Lab) Procs() []*Proc {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Proc(nil), l.procs...)
}

// Name is the name the lab gave the process: "n1", "n1-responder".
func (p *Proc) Name() string { return p.name }

// PID is the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Signal sends sig (SIGKILL, SIGSTOP, SIGCONT, SIGTERM, ...) to the process.
// After it has exited, the error is os.ErrProcessDone.
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s pid %d: %w", p.name, p.PID(), err)
	}
	return nil
}

// Running reports whether the process has not exited yet (a stopped process
// is still running).
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Wait waits up to timeout for the process to exit and returns its exit error
// (nil for status 0, an *exec.ExitError otherwise), or ErrStillRunning.
func (p *Proc) Wait(timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return fmt.Errorf("%s pid %d after %v: %w", p.name, p.PID(), timeout, ErrStillRunning)
	}
}

// kill ends the process and its process group (Start gives it one of its
// own, so a daemon's children, keepalived's VRRP process say, die with it)
// with SIGKILL if it still runs, and reaps it. Until the process is reaped
// its PID, which is the group's ID, cannot be reused, so the signal reaches
// nothing the lab did not start.
func (p *Proc) kill() error {
	if !p.Running() {
		return nil
	}
	if err := syscall.Kill(-p.PID(), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill %s's group %d: %w", p.name, p.PID(), err)
	}
	if err := p.Wait(killWait); errors.Is(err, ErrStillRunning) {
		return err
	}
	return nil
}

// spawner forks every lab process from one goroutine locked to its OS thread.
// Pdeathsig fires when the thread that forked the child exits, not the process
// (golang/go#27505), and Go ends a thread whose goroutine exits while locked,
// which the namespace helpers (RunInNS, the probe) do on purpose. Forking from
// a thread that only this goroutine ever uses means the children die exactly
// when this process does.
type spawner struct {
	reqs chan spawnReq
	done chan struct{}
}

type spawnReq struct {
	cmd *exec.Cmd
	res chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnReq), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *spawner) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		select {
		case r := <-s.reqs:
			r.res <- r.cmd.Start()
		case <-s.done:
			return
		}
	}
}

func (s *spawner) start(cmd *exec.Cmd) error {
	res := make(chan error, 1)
	select {
	case s.reqs <- spawnReq{cmd: cmd, res: res}:
		return <-res
	case <-s.done:
		return ErrClosed
	}
}

// close stops the spawner; call it after the children are gone.
func (s *spawner) close() { close(s.done) }
