package notify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/internal/testutil"
	"github.com/raftvip/raftvip/netops/netopstest"
)

func newTestRunner(h Hooks) (*Runner, *netopstest.Logs) {
	var logs netopstest.Logs
	return NewRunner(h, logs.Logger()), &logs
}

// startRun runs r.Run in the background and returns a wait for its result.
func startRun(t *testing.T, r *Runner, ctx context.Context) func() error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return sync.OnceValue(func() error { return <-done })
}

// waitFor polls until cond holds or fails the test after a generous deadline.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func stop(t *testing.T, r *Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// Hooks see their event and the node in the environment, in firing order.
func TestHooksEnvAndOrder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "events")
	hook := `echo "$RAFTVIP_EVENT|$RAFTVIP_NODE|$RAFTVIP_TERM|$RAFTVIP_VIPS|$RAFTVIP_REASON" >> ` + out
	r, logs := newTestRunner(Hooks{Master: hook, Backup: hook, Fault: hook, Stop: hook})
	wait := startRun(t, r, t.Context())
	vips := []string{"192.0.2.100/24", "2001:db8::100/64"}
	r.Fire(EventMaster, Info{Node: "n1", Term: 3, VIPs: vips})
	vips[0] = "mutated by the caller"
	r.Fire(EventFault, Info{Node: "n1", Term: 3, Reason: "web, db failing"})
	r.Fire(EventBackup, Info{Node: "n1", Term: 4})
	testutil.Eventually(t, testutil.WaitLimit, "three hooks", func() bool { return len(readLines(t, out)) == 3 })
	r.Fire(EventStop, Info{Node: "n1", Term: 4, Reason: "shutdown"})
	stop(t, r)
	if err := wait(); err != nil {
		t.Errorf("Run = %v", err)
	}
	want := []string{
		"master|n1|3|192.0.2.100/24 2001:db8::100/64|",
		"fault|n1|3||web, db failing",
		"backup|n1|4||",
		"stop|n1|4||shutdown",
	}
	if diff := cmp.Diff(want, readLines(t, out)); diff != "" {
		t.Errorf("hook runs (-want +got):\n%s", diff)
	}
	if l := logs.String(); logs.Count("notify hook done") != 4 {
		t.Errorf("want 4 'notify hook done' lines:\n%s", l)
	}
}

func TestHookEnv(t *testing.T) {
	base := make([]string, 1, 8)
	base[0] = "PATH=/bin"
	got := hookEnv(base, EventMaster, Info{Node: "n2", Term: 7, VIPs: []string{"a", "b"}, Reason: "r"})
	want := []string{"PATH=/bin", "RAFTVIP_EVENT=master", "RAFTVIP_NODE=n2", "RAFTVIP_TERM=7", "RAFTVIP_VIPS=a b", "RAFTVIP_REASON=r"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	if base[:cap(base)][1] != "" {
		t.Error("hookEnv wrote into the caller's spare capacity")
	}
}

// A hook past its timeout is killed and the next one still runs.
func TestHookTimeout(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	r, logs := newTestRunner(Hooks{
		Master:  "sleep 30",
		Backup:  "echo backup ran >> " + out,
		Timeout: 200 * time.Millisecond,
	})
	startRun(t, r, t.Context())
	r.Fire(EventMaster, Info{})
	r.Fire(EventBackup, Info{})
	testutil.Eventually(t, testutil.WaitLimit, "the backup hook", func() bool { return len(readLines(t, out)) == 1 })
	stop(t, r)
	if l := logs.String(); !strings.Contains(l, `level=WARN msg="notify hook killed after timeout" event=master command="sleep 30"`) ||
		!strings.Contains(l, "timeout=200ms") {
		t.Errorf("log lacks the timeout warning:\n%s", l)
	}
}

func TestHookFailureLogged(t *testing.T) {
	r, logs := newTestRunner(Hooks{Fault: "echo no route >&2; exit 4"})
	r.Fire(EventFault, Info{})
	stop(t, r)
	if l := logs.String(); !strings.Contains(l, `level=WARN msg="notify hook failed" event=fault`) ||
		!strings.Contains(l, `output="no route" exit=4`) {
		t.Errorf("log lacks the failure with exit status and output:\n%s", l)
	}
}

// Fire never blocks: with a hook hung and the queue full, the next event is
// dropped and logged.
func TestFireNeverBlocks(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	r, logs := newTestRunner(Hooks{Master: "touch " + started + "; sleep 30", Backup: "true", Fault: "true", Timeout: time.Minute})
	wait := startRun(t, r, t.Context())
	r.Fire(EventMaster, Info{})
	testutil.Eventually(t, testutil.WaitLimit, "the hung hook", func() bool { _, err := os.Stat(started); return err == nil })
	for range queueSize {
		r.Fire(EventBackup, Info{})
	}
	r.Fire(EventFault, Info{Term: 9}) // would block here if Fire could
	if l := logs.String(); !strings.Contains(l, `level=ERROR msg="notify queue full: event dropped" event=fault term=9`) {
		t.Errorf("log lacks the dropped event:\n%s", l)
	}

	// A spent budget kills the hung hook and drops the queue, each logged.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	if err := wait(); err != nil {
		t.Errorf("Run = %v", err)
	}
	l := logs.String()
	if n := strings.Count(l, `msg="notify hook not run: shutdown budget exhausted" event=backup`); n != queueSize {
		t.Errorf("%d queued events logged as dropped, want %d:\n%s", n, queueSize, l)
	}
	if !strings.Contains(l, `msg="notify hook killed: shutdown budget exhausted" event=master`) {
		t.Errorf("log lacks the killed hook:\n%s", l)
	}
}

// Update applies to events fired after it; queued ones keep their command.
func TestUpdate(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	r, _ := newTestRunner(Hooks{Master: "echo old >> " + out})
	r.Fire(EventMaster, Info{})
	r.Update(Hooks{Master: "echo new >> " + out, Backup: "echo backup >> " + out})
	r.Fire(EventMaster, Info{})
	r.Fire(EventBackup, Info{})
	r.Update(Hooks{})
	r.Fire(EventMaster, Info{}) // no hook any more
	stop(t, r)
	if diff := cmp.Diff([]string{"old", "new", "backup"}, readLines(t, out)); diff != "" {
		t.Errorf("hook runs (-want +got):\n%s", diff)
	}
}

// Stop runs what Run left queued when the agent's context was cancelled
// first, and nothing runs after Stop.
func TestStopAfterRunCancelled(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	hook := `echo $RAFTVIP_EVENT >> ` + out
	r, logs := newTestRunner(Hooks{Backup: hook, Stop: hook})
	ctx, cancel := context.WithCancel(t.Context())
	wait := startRun(t, r, ctx)
	cancel()
	if err := wait(); err != nil {
		t.Fatalf("Run = %v", err)
	}
	r.Fire(EventBackup, Info{})
	r.Fire(EventStop, Info{})
	stop(t, r)
	if diff := cmp.Diff([]string{"backup", "stop"}, readLines(t, out)); diff != "" {
		t.Errorf("hook runs (-want +got):\n%s", diff)
	}
	if err := r.Run(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("Run after Stop = %v, want ErrStopped", err)
	}
	r.Fire(EventBackup, Info{})
	if !strings.Contains(logs.String(), `msg="notify runner stopped: event dropped" event=backup`) {
		t.Errorf("Fire after Stop not logged:\n%s", logs.String())
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("second Stop = %v", err)
	}
}

// Stop's budget bounds a hook that would otherwise run to its timeout.
func TestStopBudgetKillsHook(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	r, logs := newTestRunner(Hooks{Stop: "touch " + started + "; sleep 30", Timeout: time.Minute})
	r.Fire(EventStop, Info{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Stop(ctx) }()
	testutil.Eventually(t, testutil.WaitLimit, "the stop hook", func() bool { _, err := os.Stat(started); return err == nil })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	if l := logs.String(); !strings.Contains(l, `msg="notify hook killed: shutdown budget exhausted" event=stop`) {
		t.Errorf("log lacks the killed hook:\n%s", l)
	}
}

func TestRunTwice(t *testing.T) {
	r, _ := newTestRunner(Hooks{})
	ctx, cancel := context.WithCancel(t.Context())
	wait := startRun(t, r, ctx)
	testutil.Eventually(t, testutil.WaitLimit, "Run to start", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.running != nil })
	if err := r.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	cancel()
	wait()
}

func TestNoHookNoJob(t *testing.T) {
	r, _ := newTestRunner(Hooks{Master: "true"})
	r.Fire(EventFault, Info{})
	r.Fire(EventBackup, Info{})
	if n := len(r.queue); n != 0 {
		t.Errorf("%d jobs queued for events without a hook", n)
	}
}
