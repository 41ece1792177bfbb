package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// Kinds of Action.
const (
	Restart = "restart"
	Freeze  = "freeze"
)

// Action is one fault of a disturbance run on a node that did not hold the
// VIP: its daemon restarted (SIGTERM, exit, start again) or frozen briefly
// (SIGSTOP, SIGCONT).
type Action struct {
	AtMs float64 `json:"at_ms"` // since the run's start
	Kind string  `json:"kind"`
	Node string  `json:"node"`
	// TookMs is how long it took: a freeze, its length and the signals; a
	// restart, until the daemon ran again, or for raftvip followed a leader
	// again.
	TookMs float64 `json:"took_ms"`
	Err    string  `json:"error,omitempty"`
}

// Move is a change of the set of VIP holders, AtMs since the run's start.
type Move struct {
	AtMs float64 `json:"at_ms"`
	From []int   `json:"from"`
	To   []int   `json:"to"`
}

// Outage is a time the client went without an answer: from the last answer
// before failed dials (AtMs, since the run's start) to the first after them.
type Outage struct {
	AtMs        float64 `json:"at_ms"`
	Ms          float64 `json:"ms"`
	Unrecovered bool    `json:"unrecovered,omitempty"`
	// HeldBy is the set of holders when every readable sample during the
	// outage showed the same one, nil when it changed or none was read. An
	// outage while one node held the VIP throughout points at the client's
	// path or the probe itself (a busy CPU), not at a move.
	HeldBy []int `json:"held_by,omitempty"`
	// FailedDials counts the dials begun during the outage (all failed).
	// The probe begins one every 10 ms, so far fewer than Ms/10 means that
	// its dials did not start: the probe itself was held up, not the VIP.
	FailedDials int `json:"failed_dials"`
}

// Disturbance is one cluster run for a while under CPU hogs while its
// followers are restarted and frozen on a schedule: nothing a client should
// notice, so the target is no holder change and no outage.
type Disturbance struct {
	System  string  `json:"system"`
	Profile string  `json:"profile"`
	Seconds float64 `json:"seconds"`
	Hogs    int     `json:"hogs"`
	// Restarts and Freezes count the actions done without error.
	Restarts int      `json:"restarts"`
	Freezes  int      `json:"freezes"`
	Actions  []Action `json:"actions"`
	// Moves lists the changes of the set of holders sampled every 10 ms.
	Moves []Move `json:"holder_changes"`
	// HolderSamples and HolderFailed count the holder samples of the run and
	// those that could not be read.
	HolderSamples int      `json:"holder_samples"`
	HolderFailed  int      `json:"holder_samples_failed"`
	Outages       []Outage `json:"outages"`
	OutageTotalMs float64  `json:"outage_total_ms"`
	LongestMs     float64  `json:"outage_longest_ms"`
	// Probes counts the client's dials begun during the run, Answered those
	// that got an answer.
	Probes   int `json:"probes"`
	Answered int `json:"answered"`
	// Verdict is "pass" or "fail (why)", against the target.
	Verdict string `json:"verdict"`
	Err     string `json:"error,omitempty"`
}

// AnsweredPct is the share of the run's dials that were answered, in percent.
func (d Disturbance) AnsweredPct() float64 {
	if d.Probes == 0 {
		return 0
	}
	return 100 * float64(d.Answered) / float64(d.Probes)
}

// Observe fills d's client and holder figures from the probe report rep of
// the run that began at offset start in it. Outages that
// end after start count, even one that began just before it.
func (d *Disturbance) Observe(rep probe.Report, start time.Duration) {
	// Empty, not nil: results.json then says [] for none.
	d.Moves, d.Outages, d.OutageTotalMs, d.LongestMs = []Move{}, []Outage{}, 0, 0
	for _, c := range HolderMoves(rep.States) {
		if c.At >= start {
			d.Moves = append(d.Moves, Move{AtMs: MS(c.At - start), From: c.From, To: c.To})
		}
	}
	d.HolderSamples, d.HolderFailed = 0, 0
	for _, s := range rep.States {
		if s.At >= start {
			d.HolderSamples++
			if s.Err != "" {
				d.HolderFailed++
			}
		}
	}
	var total, longest time.Duration
	for _, w := range OutagesAfter(rep, start) {
		from, to := start+w.From, start+w.From+w.Length
		o := Outage{AtMs: MS(w.From), Ms: MS(w.Length), Unrecovered: w.Unrecovered,
			HeldBy: steadyHolders(rep.States, from, to), FailedDials: failedDials(rep.Dials, from, to)}
		d.Outages = append(d.Outages, o)
		total, longest = total+w.Length, max(longest, w.Length)
	}
	d.OutageTotalMs, d.LongestMs = MS(total), MS(longest)
	d.Probes, d.Answered = 0, 0
	for _, p := range rep.Dials {
		if p.At >= start {
			d.Probes++
			if p.Err == "" {
				d.Answered++
			}
		}
	}
}

// steadyHolders is the set of holders every readable sample from from to to
// showed, nil when they differ, none holds or no sample was read.
func steadyHolders(states []probe.State, from, to time.Duration) []int {
	var held []int
	for _, s := range states {
		if s.At < from || s.At > to || s.Err != "" {
			continue
		}
		if len(s.Holders) == 0 || (held != nil && !slices.Equal(held, s.Holders)) {
			return nil
		}
		held = s.Holders
	}
	return held
}

// failedDials counts the failed dials begun between from and to.
func failedDials(dials []probe.Dial, from, to time.Duration) int {
	n := 0
	for _, d := range dials {
		if d.Err != "" && d.At > from && d.At < to {
			n++
		}
	}
	return n
}

// Judge sets d's verdict: whether the run met the target of no holder
// change and no outage, with its holders sampled and no error.
func (d *Disturbance) Judge() {
	d.Verdict = d.verdict()
}

func (d Disturbance) verdict() string {
	var why []string
	if d.Err != "" {
		why = append(why, "error")
	}
	if d.HolderSamples == d.HolderFailed {
		why = append(why, "holders not sampled")
	}
	if n := len(d.Moves); n > 0 {
		why = append(why, plural(n, "holder change"))
	}
	if n := len(d.Outages); n > 0 {
		why = append(why, plural(n, "outage"))
	}
	if len(why) == 0 {
		return "pass"
	}
	return "fail (" + strings.Join(why, ", ") + ")"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Before returns the last action begun at or before atMs, to say what an
// outage or a move followed; false when none was.
func Before(actions []Action, atMs float64) (Action, bool) {
	var last Action
	found := false
	for _, a := range actions {
		if a.AtMs > atMs {
			break
		}
		last, found = a, true
	}
	return last, found
}
