// Package history records what a fault soak saw, one JSON object a line, and
// judges the record afterwards: who held which VIP at every sample, what the
// client's probe got, which faults ran when and against whom, every API call
// with its answer, each daemon's start, exit and resource use, and every
// node's final state. Check is pure: it reads events and reports the
// violations of raftvip's invariants, so it is tested with hand-made
// histories and can re-judge a recorded run.
package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Event kinds.
const (
	KindMeta    = "meta"    // the run's parameters; first in every history
	KindHolders = "holders" // one sample of the VIPs every node holds
	KindProbe   = "probe"   // one dial of the client to the main VIP
	KindFault   = "fault"   // a fault began or was healed
	KindSignal  = "signal"  // the nemesis signalled a daemon
	KindStart   = "start"   // a daemon was started
	KindExit    = "exit"    // a daemon exited
	KindAPI     = "api"     // an API call and its answer
	KindRes     = "res"     // a daemon's resource use
	KindPanic   = "panic"   // a daemon's log shows a panic or a fatal error
	KindStuck   = "stuck"   // a daemon did not exit in time after SIGTERM
	KindFinal   = "final"   // a node's state at the end, through its API
)

// Fault phases.
const (
	PhaseStart = "start"
	PhaseEnd   = "end"
)

// Event is one line of a history. T counts from the start of the run; the
// other fields are set according to Kind.
type Event struct {
	T    time.Duration `json:"t"`
	Kind string        `json:"k"`
	Node int           `json:"n,omitempty"`
	// Held (holders): index i-1 lists the VIP addresses node i held.
	Held [][]string `json:"held,omitempty"`
	// Answer (probe): the node that answered ("n2"); Err is set instead on
	// failure. Err (holders, final, exit, api): what went wrong.
	Answer string `json:"ans,omitempty"`
	Err    string `json:"err,omitempty"`
	Fault  *Fault `json:"fault,omitempty"`
	// Signal (signal): "KILL", "STOP", "CONT", "TERM".
	Signal string `json:"sig,omitempty"`
	// PID (start, exit, res) and Code (exit: the exit status, -1 when
	// killed by a signal).
	PID   int    `json:"pid,omitempty"`
	Code  int    `json:"code,omitempty"`
	Call  *Call  `json:"call,omitempty"`
	Res   *Res   `json:"res,omitempty"`
	Final *Final `json:"final,omitempty"`
	Meta  *Meta  `json:"meta,omitempty"`
	// Line (panic): the log line; (stuck) what was waited for.
	Line string `json:"line,omitempty"`
}

// Fault is one injected fault. The start and end events share ID.
type Fault struct {
	ID    int    `json:"id"`
	Kind  string `json:"kind"`
	Phase string `json:"phase"`
	// Targets are the nodes the fault was aimed at; Affected those it
	// impairs (a partition's minority, a killed node), which are not
	// counted as healthy while it runs and for Meta.Settle after.
	Targets  []int  `json:"targets,omitempty"`
	Affected []int  `json:"affected,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// API operations a Call names.
const (
	OpVIPAdd    = "vip_add"    // Arg: the prefix
	OpVIPRemove = "vip_remove" // Arg: the prefix
	OpLeave     = "leave"      // Arg: the node ID
	OpJoin      = "join"       // Arg: the node ID
	OpTransfer  = "transfer"
	// Operator mistakes the cluster must refuse (4xx) and never apply.
	OpMistakeVIP  = "mistake_vip_add" // Arg: the prefix (a member's address)
	OpMistakeJoin = "mistake_join"    // Arg: the node ID the join names
)

// Call is one API call: it began at the event's T, was sent to node Node,
// and was answered with Code (0: no answer, Err says why) after Took.
type Call struct {
	Op   string        `json:"op"`
	Arg  string        `json:"arg,omitempty"`
	Code int           `json:"code"`
	Body string        `json:"body,omitempty"`
	Took time.Duration `json:"took"`
}

// Acked reports whether the cluster acknowledged the call (2xx).
func (c Call) Acked() bool { return c.Code >= 200 && c.Code < 300 }

// Refused reports whether the cluster answered that it did nothing (4xx).
func (c Call) Refused() bool { return c.Code >= 400 && c.Code < 500 }

// Res is one sample of a daemon's resources; a figure that could not be
// read is -1.
type Res struct {
	RSSKiB     float64 `json:"rss_kib"`
	FDs        float64 `json:"fds"`
	Goroutines float64 `json:"goroutines"`
}

// Final is a node's state at the end of the run, from /v1/status,
// /v1/vips and /v1/members.
type Final struct {
	State    string   `json:"state"`
	LeaderID string   `json:"leader_id"`
	Owner    string   `json:"owner"`
	VIPs     []string `json:"vips"`
	Members  []string `json:"members"` // "id:suffrage", sorted
}

// Meta is the run's parameters, and the bounds Check judges by.
type Meta struct {
	Nodes    int    `json:"nodes"`
	Seed     int64  `json:"seed"`
	Profile  string `json:"profile"`
	Duration string `json:"duration"`
	MainVIP  string `json:"main_vip"`
	// VIPs is the initial VIP set (prefixes); Pool the VIPs the churn adds
	// and removes.
	VIPs []string `json:"vips"`
	Pool []string `json:"pool"`
	// Lease is -vip-lease; Sample the holder sampling period; Election the
	// profile's election timeout.
	Lease    time.Duration `json:"lease"`
	Sample   time.Duration `json:"sample"`
	Election time.Duration `json:"election"`
	// Settle is how long a quorum of healthy nodes must have been healthy
	// before one holder and an answered client are required; MaxGap how
	// long the VIP may then go unheld or the client unanswered; KernelSlack
	// how late past Lease the kernel may remove a dead holder's VIP.
	Settle      time.Duration `json:"settle"`
	MaxGap      time.Duration `json:"max_gap"`
	KernelSlack time.Duration `json:"kernel_slack"`
	// ResourceMinSpan is the shortest daemon life whose resource trend is
	// judged.
	ResourceMinSpan time.Duration `json:"resource_min_span"`
}

// Quorum is a majority of the cluster's nodes.
func (m Meta) Quorum() int { return m.Nodes/2 + 1 }

// Recorder writes events as JSON lines and keeps them for live checks. It is
// safe for concurrent use.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	w     *bufio.Writer
	evs   []Event
	err   error
}

// NewRecorder records to w, with T counted from start.
func NewRecorder(w io.Writer, start time.Time) *Recorder {
	return &Recorder{start: start, w: bufio.NewWriterSize(w, 1<<16)}
}

// Since is the T of an instant.
func (r *Recorder) Since(t time.Time) time.Duration { return t.Sub(r.start) }

// Add records e; a zero T means now.
func (r *Recorder) Add(e Event) {
	if e.T == 0 {
		e.T = time.Since(r.start)
	}
	b, err := json.Marshal(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	if err == nil {
		_, err = r.w.Write(append(b, '\n'))
	}
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("history: %w", err)
	}
}

// Events returns a copy of everything recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

// Flush writes what is buffered and returns the first error met.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.err, r.w.Flush())
}

// Read parses a history written by a Recorder.
func Read(rd io.Reader) ([]Event, error) {
	var evs []Event
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("history line %d: %w", n, err)
		}
		evs = append(evs, e)
	}
	return evs, sc.Err()
}
