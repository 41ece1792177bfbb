// Package notify runs the operator's notify scripts (keepalived's
// notify_master, notify_backup, notify_fault and notify_stop) when this node
// starts or stops holding the VIPs, turns unhealthy or stops. Hooks run one
// at a time, in the order the events happened, and never block the caller:
// failover must not wait for a script.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/internal/shell"
)

// Event is what happened; hooks see it as RAFTVIP_EVENT.
type Event string

// The events, one per hook.
const (
	EventMaster Event = "master" // this node started holding the VIPs
	EventBackup Event = "backup" // this node stopped holding them
	EventFault  Event = "fault"  // this node's health turned bad
	EventStop   Event = "stop"   // the agent is stopping
)

// DefaultTimeout is how long a hook may run when Hooks.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// queueSize bounds the events waiting for their hook. Leadership changes
// faster than 64 times per hook runtime mean something else is wrong.
const queueSize = 64

var (
	// ErrStopped is returned by Run after Stop.
	ErrStopped = errors.New("notify runner stopped")
	// ErrRunning is returned by Run when Run is already running.
	ErrRunning = errors.New("notify runner already running")
	// errTimeout is the cause of a hook killed at its timeout.
	errTimeout = errors.New("hook timed out")
)

// Hooks are the command lines run with /bin/sh -c for each event. An empty
// command means no hook for that event.
type Hooks struct {
	Master, Backup, Fault, Stop string
	Timeout                     time.Duration // a hook still running after this is killed; 0 = DefaultTimeout
}

func (h Hooks) command(ev Event) string {
	switch ev {
	case EventMaster:
		return h.Master
	case EventBackup:
		return h.Backup
	case EventFault:
		return h.Fault
	case EventStop:
		return h.Stop
	}
	return ""
}

func (h Hooks) withDefaults() Hooks {
	if h.Timeout <= 0 {
		h.Timeout = DefaultTimeout
	}
	return h
}

// Info describes the node when the event happened.
type Info struct {
	Node   string   // RAFTVIP_NODE
	Term   uint64   // RAFTVIP_TERM
	VIPs   []string // RAFTVIP_VIPS, space-separated
	Reason string   // RAFTVIP_REASON, free text such as the failing checks
}

// hookEnv is base plus the RAFTVIP_* variables of ev and info. Later
// entries win in exec, so these override inherited ones.
func hookEnv(base []string, ev Event, info Info) []string {
	return append(slices.Clip(base),
		"RAFTVIP_EVENT="+string(ev),
		"RAFTVIP_NODE="+info.Node,
		"RAFTVIP_TERM="+strconv.FormatUint(info.Term, 10),
		"RAFTVIP_VIPS="+strings.Join(info.VIPs, " "),
		"RAFTVIP_REASON="+info.Reason,
	)
}

// job is one event with the command and timeout in force when it fired.
type job struct {
	ev      Event
	info    Info
	cmd     string
	timeout time.Duration
}

// Runner queues events and runs their hooks one at a time, in order.
//
// Lifecycle: Fire may be called at any time. Run executes hooks until its
// ctx is cancelled or Stop is called. Stop, called once at shutdown, makes
// Run return, then runs what is still queued (the stop hook the agent just
// fired included) within its ctx, and kills the hook in flight if that ctx
// ends first. Stop works whether or not Run was ever started, and after
// Stop nothing runs any more: Fire logs and drops, Run returns ErrStopped.
type Runner struct {
	log      *slog.Logger
	queue    chan job
	stopping chan struct{} // closed by Stop: Run returns
	// kill ends the hook in flight and makes the queue be dropped; Stop
	// cancels it when its ctx ends.
	kill    context.Context
	killNow context.CancelFunc

	mu      sync.Mutex
	hooks   Hooks
	stopped bool
	running chan struct{} // closed when the current Run returns; nil when Run is not running
}

// NewRunner returns a Runner for h. It starts nothing: call Run.
func NewRunner(h Hooks, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	kill, killNow := context.WithCancel(context.Background())
	return &Runner{
		log:      log,
		queue:    make(chan job, queueSize),
		stopping: make(chan struct{}),
		kill:     kill,
		killNow:  killNow,
		hooks:    h.withDefaults(),
	}
}

// Update replaces the hooks for events fired from now on (SIGHUP); events
// already queued keep the command they were fired with.
func (r *Runner) Update(h Hooks) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = h.withDefaults()
}

// Fire queues ev's hook, if it has one. It never blocks: when the queue is
// full, or the runner is stopped, the event is dropped and an error logged.
func (r *Runner) Fire(ev Event, info Info) {
	info.VIPs = slices.Clone(info.VIPs)
	r.mu.Lock()
	j := job{ev: ev, info: info, cmd: r.hooks.command(ev), timeout: r.hooks.Timeout}
	var drop string
	switch {
	case j.cmd == "":
		r.mu.Unlock()
		return
	case r.stopped:
		drop = "notify runner stopped: event dropped"
	default:
		select {
		case r.queue <- j:
		default:
			drop = "notify queue full: event dropped"
		}
	}
	r.mu.Unlock()
	if drop != "" {
		r.log.Error(drop, "event", ev, "term", info.Term, "reason", info.Reason, "queue", queueSize)
	}
}

// Run runs queued hooks in order until ctx is cancelled or Stop is called,
// and returns nil. Cancelling ctx does not kill the hook in flight (it may be
// the backup hook of a shutdown); Run returns after it, leaving the queue to
// Stop. Run returns ErrStopped after Stop and ErrRunning if already running.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	switch {
	case r.stopped:
		r.mu.Unlock()
		return ErrStopped
	case r.running != nil:
		r.mu.Unlock()
		return ErrRunning
	}
	done := make(chan struct{})
	r.running = done
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = nil
		r.mu.Unlock()
		close(done)
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.stopping:
			return nil
		case j := <-r.queue:
			r.exec(j)
		}
	}
}

// Stop ends the runner for the agent's shutdown: Run returns after its hook
// in flight, then Stop runs every queued hook in order. When ctx ends first,
// the hook in flight is killed, the rest is dropped (each logged) and Stop
// returns ctx's error. A second Stop returns nil at once.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if r.stopped {
		r.mu.Unlock()
		return nil
	}
	r.stopped = true
	close(r.stopping)
	running := r.running
	r.mu.Unlock()

	defer context.AfterFunc(ctx, r.killNow)()
	if running != nil {
		select {
		case <-running:
		case <-ctx.Done():
		}
	}
	for {
		select {
		case j := <-r.queue:
			if ctx.Err() != nil {
				r.killNow() // AfterFunc's call may not have happened yet
			}
			r.exec(j)
		default:
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("notify hooks cut short at shutdown: %w", err)
			}
			return nil
		}
	}
}

// exec runs j's hook and logs its outcome.
func (r *Runner) exec(j job) {
	attrs := []any{"event", j.ev, "command", j.cmd}
	if r.kill.Err() != nil {
		r.log.Error("notify hook not run: shutdown budget exhausted", attrs...)
		return
	}
	ctx, cancel := context.WithTimeoutCause(r.kill, j.timeout, errTimeout)
	defer cancel()
	start := time.Now()
	out, err := shell.Run(ctx, j.cmd, hookEnv(os.Environ(), j.ev, j.info))
	attrs = append(attrs, "duration", time.Since(start).Round(time.Millisecond), "output", out)
	var exit *exec.ExitError
	switch {
	case err == nil:
		r.log.Info("notify hook done", attrs...)
	case errors.Is(context.Cause(ctx), errTimeout):
		r.log.Warn("notify hook killed after timeout", append(attrs, "timeout", j.timeout)...)
	case r.kill.Err() != nil:
		r.log.Warn("notify hook killed: shutdown budget exhausted", attrs...)
	case errors.As(err, &exit):
		r.log.Warn("notify hook failed", append(attrs, "exit", exit.ExitCode())...)
	default:
		r.log.Warn("notify hook failed", append(attrs, "error", err)...)
	}
}
