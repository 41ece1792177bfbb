package bench

import (
	"math"
	"time"
)

// Systems under test.
const (
	Raftvip    = "raftvip"
	Keepalived = "keepalived"
)

// Run is the outcome of one failover run of one system, profile and scenario.
// Times are milliseconds; NaN (null in JSON is not possible, so -1 is used
// there, see MS) marks a figure the run could not produce.
type Run struct {
	System   string `json:"system"`
	Profile  string `json:"profile"`
	Scenario string `json:"scenario"`
	Index    int    `json:"run"`
	// Victim is the node the fault hit, Taker the first other node that
	// answered the client afterwards ("" if none did).
	Victim string `json:"victim,omitempty"`
	Taker  string `json:"taker,omitempty"`

	// OutageMs is the probe's longest time without an answer (last answer
	// before the failed dials to the first after them).
	OutageMs    float64 `json:"outage_ms"`
	Unrecovered bool    `json:"unrecovered,omitempty"`
	// TakeoverMs runs from the fault to the first answer by another node; -1
	// if no other node answered.
	TakeoverMs float64 `json:"takeover_ms"`
	// DualHolderMs is the longest time two or more nodes had the VIP in their
	// kernel at once, over the whole probe (recovery included).
	DualHolderMs float64 `json:"dual_holder_ms"`
	// DualHolderToEnd: two nodes still held the VIP when the probe stopped,
	// so DualHolderMs is only a lower bound.
	DualHolderToEnd bool    `json:"dual_holder_to_end,omitempty"`
	NoHolderMs      float64 `json:"no_holder_ms"`
	// Flaps counts changes of the answering node (a clean failover is 1).
	Flaps int `json:"flaps"`
	// WindowMs is how long the probe ran after the fault.
	WindowMs float64 `json:"window_ms"`
	// VIPs is how many VIPs the cluster held.
	VIPs int `json:"vips,omitempty"`
	// Recovery names what ended the fault ("heal", "SIGCONT", "host up",
	// "restart"; "" for a fault that does not end) and RecoveryMs its time
	// after the fault. Once the old holder is back nothing should happen to
	// the client: AfterRecoveryOutages counts the outages that began after
	// the recovery (AfterRecoveryLongestMs the longest), and
	// AfterRecoverySwitches the changes of the answering node after it.
	Recovery               string  `json:"recovery,omitempty"`
	RecoveryMs             float64 `json:"recovery_ms,omitempty"`
	AfterRecoveryOutages   int     `json:"after_recovery_outages,omitempty"`
	AfterRecoveryLongestMs float64 `json:"after_recovery_longest_ms,omitempty"`
	AfterRecoverySwitches  int     `json:"after_recovery_switches,omitempty"`
	// Daemon holds the figures read from the new leader's log (raftvip only).
	Daemon *DaemonTimes `json:"daemon,omitempty"`
	Err    string       `json:"error,omitempty"`
}

// Key names the group a run belongs to.
func (r Run) Key() Key { return Key{System: r.System, Profile: r.Profile, Scenario: r.Scenario} }

// Key identifies a system, profile and scenario.
type Key struct {
	System   string `json:"system"`
	Profile  string `json:"profile"`
	Scenario string `json:"scenario"`
}

// MS converts d to milliseconds, rounded to 0.1 ms.
func MS(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*10) / 10 }

// DaemonTimes are raftvip's own timestamps of a takeover, from the new
// leader's log lines, measured from the fault, in milliseconds (-1: the line
// was not found). The log's clock has a resolution of 1 ms.
type DaemonTimes struct {
	Node string `json:"node"`
	Term uint64 `json:"term"`
	// ElectedMs: the "raft state" line with state=Leader.
	ElectedMs float64 `json:"elected_ms"`
	// ClaimedMs: "claimed the VIPs" (the claim is committed).
	ClaimedMs float64 `json:"claimed_ms"`
	// FirstBoundMs, LastBoundMs: the first "bound VIP" line of the new term,
	// and the last VIP's first one (logged after the netlink call returned),
	// so LastBoundMs is when every VIP had been bound.
	FirstBoundMs float64 `json:"first_bound_ms"`
	LastBoundMs  float64 `json:"last_bound_ms"`
	// LastAnnouncedMs: the last VIP's first "announcing VIP" line of the new
	// term (logged just before its first announcement is sent).
	LastAnnouncedMs float64 `json:"last_announced_ms"`
	// Bound and Announced count the distinct VIPs of those lines.
	Bound     int `json:"bound"`
	Announced int `json:"announced"`
}

// Complete reports whether the log shows all n VIPs bound and announced.
func (d DaemonTimes) Complete(n int) bool { return d.Bound >= n && d.Announced >= n }

// ClaimToLastBound is the time from the committed claim to the last VIP bound.
func (d DaemonTimes) ClaimToLastBound() float64 { return diff(d.LastBoundMs, d.ClaimedMs) }

// ClaimToLastAnnounced is the time from the committed claim to the last VIP's
// first announcement.
func (d DaemonTimes) ClaimToLastAnnounced() float64 { return diff(d.LastAnnouncedMs, d.ClaimedMs) }

// ElectedToLastBound is the time from the election to the last VIP bound.
func (d DaemonTimes) ElectedToLastBound() float64 { return diff(d.LastBoundMs, d.ElectedMs) }

// ElectedToClaimed is the time the claim took to commit.
func (d DaemonTimes) ElectedToClaimed() float64 { return diff(d.ClaimedMs, d.ElectedMs) }

func diff(later, earlier float64) float64 {
	if later < 0 || earlier < 0 {
		return math.NaN()
	}
	return math.Round((later-earlier)*10) / 10
}

// Resource is the idle footprint of one node's daemon.
type Resource struct {
	System  string  `json:"system"`
	Profile string  `json:"profile"`
	Node    string  `json:"node"`
	Role    string  `json:"role"` // "leader"/"follower", "master"/"backup"
	Seconds float64 `json:"seconds"`
	// CPUPercent is utime+stime over the window, in percent of one core.
	CPUPercent float64 `json:"cpu_percent_of_core"`
	// Wakeups is the voluntary context switches of all the daemon's threads
	// over the window, per second: how often it went to sleep and was woken.
	// For a daemon that mostly sleeps it counts its work, while the CPU time
	// of that work varies from minute to minute on a shared VM.
	Wakeups float64 `json:"wakeups_per_s"`
	// RSSMiB is the largest VmRSS sampled, in MiB (all processes of the
	// daemon summed, for keepalived's parent and VRRP child).
	RSSMiB float64 `json:"rss_mib"`
	Err    string  `json:"error,omitempty"`
}

// Stability is one idle cluster watched under a CPU hog.
type Stability struct {
	System  string  `json:"system"`
	Profile string  `json:"profile"`
	Seconds float64 `json:"seconds"`
	Hogs    int     `json:"hogs"`
	// LeaderChanges counts changes of the leader any node reported, and
	// TermChanges the increases of the highest term seen (raftvip only; -1
	// for keepalived).
	LeaderChanges int `json:"leader_changes"`
	TermChanges   int `json:"term_changes"`
	// VIPMoves counts changes of the set of VIP holders sampled every 10 ms.
	VIPMoves     int     `json:"vip_moves"`
	DualHolderMs float64 `json:"dual_holder_ms"`
	OutageMs     float64 `json:"outage_ms"`
	Flaps        int     `json:"flaps"`
	Err          string  `json:"error,omitempty"`
}

// Results is everything one bench invocation measured: results.json.
type Results struct {
	Started     time.Time     `json:"started"`
	Command     string        `json:"command"`
	Machine     Machine       `json:"machine"`
	Runs        []Run         `json:"runs"`
	Summary     []Row         `json:"summary"`
	Ratios      []Ratio       `json:"ratios"`
	Resources   []Resource    `json:"resources"`
	Stability   []Stability   `json:"stability"`
	Disturbance []Disturbance `json:"disturbance"`
	Targets     []Verdict     `json:"targets"`
	Notes       []string      `json:"notes"`
}

// Machine describes where the figures come from.
type Machine struct {
	CPUs       int    `json:"cpus"`
	Kernel     string `json:"kernel"`
	Keepalived string `json:"keepalived"` // version, or why it did not run
	ProbeMs    int    `json:"probe_interval_ms"`
}
