package bench

import (
	"slices"
	"strconv"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// Seg is a span of one timeline row: Node (1-based) answered the client, or
// held the VIP, from From to To. Times are relative to the fault.
type Seg struct {
	From time.Duration `json:"from"`
	To   time.Duration `json:"to"`
	Node int           `json:"node"`
}

// Lane is one row of a timeline.
type Lane struct {
	Label string `json:"label"`
	Segs  []Seg  `json:"segs"`
}

// Mark is a labelled instant of a timeline, relative to the fault.
type Mark struct {
	At    time.Duration `json:"at"`
	Label string        `json:"label"`
}

// Group is the timeline of one failover run: who answered the client, and
// which nodes held the VIP.
type Group struct {
	Title   string        `json:"title"`
	Start   time.Duration `json:"start"`
	End     time.Duration `json:"end"`
	Client  Lane          `json:"client"`
	Holders []Lane        `json:"holders"`
	Marks   []Mark        `json:"marks"`
}

// GroupOf turns a probe report into a timeline with t=0 at faultAt (an
// offset from the report's start). Each sample lasts until the next one;
// failed dials and unreadable states leave gaps.
func GroupOf(title string, r probe.Report, faultAt time.Duration, nodes int, marks ...Mark) Group {
	g := Group{Title: title, Start: -faultAt, End: r.Duration - faultAt}
	g.Marks = append([]Mark{{At: 0, Label: "fault"}}, marks...)
	var client []Seg
	for i, d := range r.Dials {
		if d.Err != "" {
			continue
		}
		client = appendSeg(client, Seg{From: d.At - faultAt, To: next(i, len(r.Dials), func(j int) time.Duration { return r.Dials[j].At }, d.At, r.Duration) - faultAt, Node: lab.NodeIndex(d.Node)})
	}
	g.Client = Lane{Label: "client answered by", Segs: client}
	for n := 1; n <= nodes; n++ {
		var segs []Seg
		for i, s := range r.States {
			if s.Err != "" || !slices.Contains(s.Holders, n) {
				continue
			}
			to := next(i, len(r.States), func(j int) time.Duration { return r.States[j].At }, s.At, r.Duration)
			segs = appendSeg(segs, Seg{From: s.At - faultAt, To: to - faultAt, Node: n})
		}
		g.Holders = append(g.Holders, Lane{Label: "n" + strconv.Itoa(n) + " holds VIP", Segs: segs})
	}
	return g
}

// next is when sample i ends: at the next sample, or for the last one at
// the end of the probe (at most one probe interval later).
func next(i, n int, at func(int) time.Duration, cur, end time.Duration) time.Duration {
	if i+1 < n {
		return at(i + 1)
	}
	return min(end, cur+10*time.Millisecond)
}

// appendSeg extends the last segment when s continues it with the same node.
func appendSeg(segs []Seg, s Seg) []Seg {
	if n := len(segs); n > 0 && segs[n-1].Node == s.Node && segs[n-1].To >= s.From {
		segs[n-1].To = max(segs[n-1].To, s.To)
		return segs
	}
	return append(segs, s)
}

// HolderChange is a change of the set of VIP holders between two readable
// samples.
type HolderChange struct {
	At       time.Duration // the first sample that showed To
	From, To []int
}

// HolderMoves lists the changes of the set of VIP holders between readable
// samples, in order: a move from n1 to n2 through a gap with no holder is 2.
func HolderMoves(states []probe.State) []HolderChange {
	var out []HolderChange
	seen := false
	var last []int
	for _, s := range states {
		if s.Err != "" {
			continue
		}
		if seen && !slices.Equal(s.Holders, last) {
			out = append(out, HolderChange{At: s.At, From: last, To: s.Holders})
		}
		last, seen = s.Holders, true
	}
	return out
}

// HolderChanges counts the changes HolderMoves lists.
func HolderChanges(states []probe.State) int { return len(HolderMoves(states)) }

// OutagesAfter lists the outages of r that end at or after at, their From
// counted from at (negative for one that began before it).
func OutagesAfter(r probe.Report, at time.Duration) []probe.Window {
	var out []probe.Window
	for _, w := range r.Windows() {
		if w.From+w.Length >= at {
			w.From -= at
			out = append(out, w)
		}
	}
	return out
}

// AfterRecovery is what the client saw once the fault ended at at: the
// outages whose first failed dial began at or after at (From counted from
// at, so it can be a probe interval negative: an outage starts at the last
// answer before it), and the changes of the answering node among the
// answers from at on, counted from the last answer before at (the node that
// took over). An outage already under way at at belongs to the failover.
func AfterRecovery(r probe.Report, at time.Duration) (outages []probe.Window, switches int) {
	for _, w := range r.Windows() {
		if w.From+w.Length <= at || failedBetween(r.Dials, w.From, at) {
			continue
		}
		w.From -= at
		outages = append(outages, w)
	}
	last := ""
	for _, d := range r.Dials {
		if d.Err != "" {
			continue
		}
		if d.At >= at && last != "" && d.Node != last {
			switches++
		}
		last = d.Node
	}
	return outages, switches
}

// failedBetween reports whether a dial that began in [from, to) failed.
func failedBetween(dials []probe.Dial, from, to time.Duration) bool {
	for _, d := range dials {
		if d.Err != "" && d.At >= from && d.At < to {
			return true
		}
	}
	return false
}
