package probe

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Dial is one connection attempt from the client to the VIP.
type Dial struct {
	At   time.Duration // when the dial began, since Report.Start
	Took time.Duration
	Node string // who answered ("n2"); "" when Err is set
	Err  string // "" on success, else a short class: "timeout", "refused", ...
}

// State is one sample of who holds the VIP and what the client believes.
type State struct {
	At         time.Duration // since Report.Start
	Holders    []int         // nodes with the VIP configured, ascending
	NeighMAC   net.HardwareAddr
	NeighState string // "REACHABLE", "STALE", ...; "" with no entry
	Err        string // reading the state failed; the other fields are empty
}

// Report is the verdict of a probe run. Durations are measured from the
// samples, so their resolution is the probe interval.
type Report struct {
	VIP      netip.Addr
	Start    time.Time
	Duration time.Duration
	Dials    []Dial  // ordered by At
	States   []State // ordered by At
	OK       int     // successful dials
	Failed   int     // failed dials
	Missed   int     // ticks with every dialer busy (no dial started)
	Err      string  // the probe could not run (entering the namespace failed)

	// Outage is the longest time without an answer: from the last success
	// before a run of failed dials to the first success after it (or to the
	// end, then Unrecovered is set). Failures before the first answer do not
	// count: the VIP was not up yet. 0 if no dial failed between answers.
	Outage      time.Duration
	OutageFrom  time.Duration // the last success before the longest outage
	Unrecovered bool          // the probe ended inside the outage

	// TakeoverAt is the first answer by a node other than the first answerer,
	// TakeoverBy that node; "" if the first answerer kept answering.
	TakeoverAt time.Duration
	TakeoverBy string

	// DualHolder is the longest continuous time two or more nodes held the VIP
	// (0 if never), from the first sample showing it to the first sample that
	// does not. DualHolderAt is when it began.
	DualHolder   time.Duration
	DualHolderAt time.Duration
	// NoHolder is the longest continuous time no node held the VIP.
	NoHolder time.Duration
	// HolderSamples is how many state samples were taken, HolderFailed how
	// many of them failed (State.Err). DualHolder and NoHolder skip failed
	// samples, so they mean something only when HolderSamples > 0 and
	// HolderFailed == 0.
	HolderSamples int
	HolderFailed  int

	Flaps     int                // times the answering node changed
	Answerers []string           // answering nodes in order, repeats collapsed
	NeighMACs []net.HardwareAddr // the client's neighbour MACs in order, repeats collapsed
}

// analyze is the pure part of Stop: samples in, verdict out.
func analyze(vip netip.Addr, start time.Time, dur time.Duration, dials []Dial, states []State) Report {
	r := Report{VIP: vip, Start: start, Duration: dur}
	r.Dials = slices.Clone(dials)
	slices.SortStableFunc(r.Dials, func(a, b Dial) int { return cmp.Compare(a.At, b.At) })
	r.States = slices.Clone(states)
	slices.SortStableFunc(r.States, func(a, b State) int { return cmp.Compare(a.At, b.At) })
	r.answers()
	r.outage()
	r.DualHolder, r.DualHolderAt = longestRun(r.States, dur, func(s State) bool { return len(s.Holders) >= 2 })
	r.NoHolder, _ = longestRun(r.States, dur, func(s State) bool { return len(s.Holders) == 0 })
	r.HolderSamples = len(r.States)
	for _, s := range r.States {
		if s.Err != "" {
			r.HolderFailed++
		}
		if s.NeighMAC != nil && (len(r.NeighMACs) == 0 || !bytes.Equal(r.NeighMACs[len(r.NeighMACs)-1], s.NeighMAC)) {
			r.NeighMACs = append(r.NeighMACs, s.NeighMAC)
		}
	}
	return r
}

// answers counts dials and fills Answerers, Flaps and the takeover.
func (r *Report) answers() {
	for _, d := range r.Dials {
		if d.Err != "" {
			r.Failed++
			continue
		}
		r.OK++
		if n := len(r.Answerers); n > 0 && r.Answerers[n-1] == d.Node {
			continue
		}
		if len(r.Answerers) > 0 {
			r.Flaps++
		}
		if len(r.Answerers) > 0 && r.TakeoverBy == "" && d.Node != r.Answerers[0] {
			r.TakeoverAt, r.TakeoverBy = d.At, d.Node
		}
		r.Answerers = append(r.Answerers, d.Node)
	}
}

// Window is one outage the client saw: from the last answer before a run of
// failed dials (From, since Report.Start) to the first answer after them,
// Length later, or to the end of the probe (Unrecovered).
type Window struct {
	From        time.Duration
	Length      time.Duration
	Unrecovered bool
}

// Windows lists every outage in order. Failures before the first answer do
// not count: the VIP was not up yet.
func (r Report) Windows() []Window { return windows(r.Dials, r.Duration) }

// windows is Windows over dials ordered by At, for a probe that ran until end.
func windows(dials []Dial, end time.Duration) []Window {
	var out []Window
	var lastOK time.Duration
	seenOK, failing := false, false
	for _, d := range dials {
		switch {
		case d.Err != "":
			failing = seenOK
		case failing:
			out = append(out, Window{From: lastOK, Length: d.At - lastOK})
			failing, lastOK = false, d.At
		default:
			lastOK, seenOK = d.At, true
		}
	}
	if failing {
		out = append(out, Window{From: lastOK, Length: end - lastOK, Unrecovered: true})
	}
	return out
}

// outage picks the longest window, the first of equals.
func (r *Report) outage() {
	for _, w := range windows(r.Dials, r.Duration) {
		if w.Length > r.Outage {
			r.Outage, r.OutageFrom, r.Unrecovered = w.Length, w.From, w.Unrecovered
		}
	}
}

// longestRun returns the longest time pred held continuously over states
// (samples with an error neither start nor end a run), and when it began. A
// run lasts until the next sample where pred fails, or until end.
func longestRun(states []State, end time.Duration, pred func(State) bool) (longest, at time.Duration) {
	in, began := false, time.Duration(0)
	for _, s := range states {
		if s.Err != "" {
			continue
		}
		switch ok := pred(s); {
		case ok && !in:
			in, began = true, s.At
		case !ok && in:
			in = false
			if d := s.At - began; d > longest {
				longest, at = d, began
			}
		}
	}
	if in && end-began > longest {
		longest, at = end-began, began
	}
	return longest, at
}

// String summarises the report on one line.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "probe %s over %v: %d ok, %d failed", r.VIP, r.Duration.Round(time.Millisecond), r.OK, r.Failed)
	fmt.Fprintf(&b, "; outage %v", r.Outage.Round(time.Millisecond))
	if r.Unrecovered {
		b.WriteString(" (unrecovered)")
	}
	fmt.Fprintf(&b, "; answerers %v (%d flaps)", r.Answerers, r.Flaps)
	if r.TakeoverBy != "" {
		fmt.Fprintf(&b, "; takeover by %s at %v", r.TakeoverBy, r.TakeoverAt.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "; dual holder %v; no holder %v (%d holder samples, %d failed); neighbour MACs %v",
		r.DualHolder.Round(time.Millisecond), r.NoHolder.Round(time.Millisecond), r.HolderSamples, r.HolderFailed, r.NeighMACs)
	if r.Err != "" {
		fmt.Fprintf(&b, "; error: %s", r.Err)
	}
	return b.String()
}

// errClass names a dial error briefly, for reports and plots.
func errClass(err error) string {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	}
	return err.Error()
}
