package history

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Invariants, numbered as in docs/reliability.md.
const (
	InvSingleHolder = 1 + iota
	InvAvailable
	InvNoLostWrite
	InvConverged
	InvNoCrash
)

// invariantNames are the one-line statements of the invariants.
var invariantNames = map[int]string{
	InvSingleHolder: "never two holders of a VIP, but for a killed or frozen holder within its kernel lease",
	InvAvailable:    "a quorum healthy for the settle time has one holder and answers the client",
	InvNoLostWrite:  "no acknowledged VIP or membership change is lost",
	InvConverged:    "after the quiet tail every node reports the same state",
	InvNoCrash:      "no daemon exits unasked or panics, none grows without bound",
}

// Report is Check's verdict on a history.
type Report struct {
	Meta Meta          `json:"meta"`
	End  time.Duration `json:"end"`
	// Partial: the run was still going; the final-state invariants (3, 4)
	// and resource trends were not judged.
	Partial      bool    `json:"partial,omitempty"`
	Probes       int     `json:"probes"`
	Answered     int     `json:"answered"`
	Availability float64 `json:"availability_pct"`
	// QuorumTime is how long a quorum had been healthy for the settle
	// time: the part of the run invariant 2 judges.
	QuorumTime    time.Duration  `json:"quorum_time"`
	HolderSamples int            `json:"holder_samples"`
	HolderFailed  int            `json:"holder_failed"`
	Faults        []FaultStat    `json:"faults"`
	Calls         map[string]int `json:"calls"` // by "op code"
	DualWindows   []DualWindow   `json:"dual_windows"`
	Outages       []Span         `json:"outages"` // client outages over Meta.MaxGap/2, longest first
	Resources     []Trend        `json:"resources"`
	Verdicts      []Verdict      `json:"verdicts"`
	Violations    []Violation    `json:"violations"`
}

// Span is a stretch of the run.
type Span struct {
	From time.Duration `json:"from"`
	To   time.Duration `json:"to"`
}

// Len is the span's length.
func (s Span) Len() time.Duration { return s.To - s.From }

// FaultStat sums up the faults of one kind, with the longest client outage
// that overlapped a fault of this kind or the settle time after it.
// Faults overlap, so the outage may be another's doing; the Quorate figures
// count only the faults during which the faults overlapping them, this one
// included, left a quorum healthy: there an outage is bounded by MaxGap.
type FaultStat struct {
	Kind           string        `json:"kind"`
	Count          int           `json:"count"`
	LongestOutage  time.Duration `json:"longest_outage"`
	Quorate        int           `json:"quorate"`
	QuorateLongest time.Duration `json:"quorate_longest_outage"`
	QuorateOverGap int           `json:"quorate_over_max_gap"`
}

// DualWindow is a time two or more nodes held one VIP.
type DualWindow struct {
	Addr  string        `json:"addr"`
	From  time.Duration `json:"from"`
	Len   time.Duration `json:"len"`
	Nodes []int         `json:"nodes"`
	// Excused: at every sample all holders but one had been SIGKILLed or
	// SIGSTOPped within Lease+KernelSlack+Sample before.
	Excused bool `json:"excused"`
}

// Trend is the resource use of one daemon process over its life.
type Trend struct {
	Node   int           `json:"node"`
	PID    int           `json:"pid"`
	Span   time.Duration `json:"span"`
	Judged bool          `json:"judged"`
	// Slopes per minute, least squares.
	RSSKiBPerMin     float64 `json:"rss_kib_per_min"`
	FDsPerMin        float64 `json:"fds_per_min"`
	GoroutinesPerMin float64 `json:"goroutines_per_min"`
	Growing          string  `json:"growing,omitempty"` // which figures grew clearly
}

// Verdict is one invariant's outcome.
type Verdict struct {
	Invariant  int    `json:"invariant"`
	Name       string `json:"name"`
	Judged     bool   `json:"judged"`
	Violations int    `json:"violations"`
}

// String is the verdict's line in the run's last lines.
func (v Verdict) String() string {
	res := "ok"
	switch {
	case !v.Judged:
		res = "not judged"
	case v.Violations > 0:
		res = fmt.Sprintf("VIOLATED (%d)", v.Violations)
	}
	return fmt.Sprintf("invariant %d, %s: %s", v.Invariant, v.Name, res)
}

// Violation is one breach of an invariant, with the history around it.
type Violation struct {
	Invariant int           `json:"invariant"`
	At        time.Duration `json:"at"`
	What      string        `json:"what"`
	Excerpt   []string      `json:"excerpt,omitempty"`
}

// checker holds the sorted history while Check works through it.
type checker struct {
	r       *Report
	evs     []Event
	faults  []faultSpan
	holders []Event
	probes  []Event
}

type faultSpan struct {
	Fault
	span Span
}

// Check judges a history. With partial set the run is taken as still going:
// faults not yet healed last to the end, and only the invariants that do not
// need the final states are judged.
func Check(evs []Event, partial bool) Report {
	c := &checker{r: &Report{Partial: partial, Calls: map[string]int{}}}
	c.evs = slices.Clone(evs)
	slices.SortStableFunc(c.evs, func(a, b Event) int { return cmp.Compare(a.T, b.T) })
	for _, e := range c.evs {
		c.r.End = max(c.r.End, e.T)
		switch e.Kind {
		case KindMeta:
			if e.Meta != nil {
				c.r.Meta = *e.Meta
			}
		case KindHolders:
			c.holders = append(c.holders, e)
		case KindProbe:
			c.probes = append(c.probes, e)
		case KindAPI:
			if e.Call != nil {
				c.r.Calls[fmt.Sprintf("%s %d", e.Call.Op, e.Call.Code)]++
			}
		}
	}
	c.defaults()
	c.collectFaults()
	c.singleHolder()
	outages := c.outages()
	c.available(outages)
	c.faultStats(outages)
	c.mistakes()
	if !partial {
		c.lostWrites()
		c.mistakesUndone()
		c.converged()
	}
	c.noCrash(!partial)
	for inv := InvSingleHolder; inv <= InvNoCrash; inv++ {
		v := Verdict{Invariant: inv, Name: invariantNames[inv], Judged: !partial || inv == InvSingleHolder || inv == InvAvailable || inv == InvNoCrash}
		for _, x := range c.r.Violations {
			if x.Invariant == inv {
				v.Violations++
			}
		}
		c.r.Verdicts = append(c.r.Verdicts, v)
	}
	slices.SortStableFunc(c.r.Violations, func(a, b Violation) int { return cmp.Compare(a.At, b.At) })
	return *c.r
}

// defaults fills bounds a history without them (or an old one) lacks.
func (c *checker) defaults() {
	m := &c.r.Meta
	if m.Nodes == 0 {
		m.Nodes = 3
	}
	m.Sample = cmp.Or(m.Sample, 10*time.Millisecond)
	m.Lease = cmp.Or(m.Lease, time.Second)
	m.KernelSlack = cmp.Or(m.KernelSlack, 250*time.Millisecond)
	m.Election = cmp.Or(m.Election, 200*time.Millisecond)
	m.Settle = cmp.Or(m.Settle, m.Election+5*time.Second)
	m.MaxGap = cmp.Or(m.MaxGap, 5*time.Second)
	m.ResourceMinSpan = cmp.Or(m.ResourceMinSpan, 2*time.Minute)
}

func (c *checker) violate(inv int, at time.Duration, format string, args ...any) {
	c.r.Violations = append(c.r.Violations, Violation{
		Invariant: inv, At: at, What: fmt.Sprintf(format, args...),
		Excerpt: Excerpt(c.evs, at-3*time.Second, at+3*time.Second, 40),
	})
}

// collectFaults pairs the start and end of every fault; one never healed
// lasts to the end of the history.
func (c *checker) collectFaults() {
	byID := map[int]int{}
	for _, e := range c.evs {
		if e.Kind != KindFault || e.Fault == nil {
			continue
		}
		switch e.Fault.Phase {
		case PhaseStart:
			byID[e.Fault.ID] = len(c.faults)
			c.faults = append(c.faults, faultSpan{Fault: *e.Fault, span: Span{From: e.T, To: -1}})
		case PhaseEnd:
			if k, ok := byID[e.Fault.ID]; ok {
				c.faults[k].span.To = e.T
			}
		}
	}
	for k := range c.faults {
		if c.faults[k].span.To < 0 {
			c.faults[k].span.To = c.r.End
		}
	}
}

// singleHolder is invariant 1.
func (c *checker) singleHolder() {
	m := c.r.Meta
	excuse := m.Lease + m.KernelSlack + m.Sample
	lastStop := map[int][]time.Duration{} // node -> times of KILL/STOP
	for _, e := range c.evs {
		if e.Kind == KindSignal && (e.Signal == "KILL" || e.Signal == "STOP") {
			lastStop[e.Node] = append(lastStop[e.Node], e.T)
		}
	}
	dead := func(node int, t time.Duration) bool {
		for _, s := range lastStop[node] {
			if s <= t && t-s <= excuse {
				return true
			}
		}
		return false
	}
	open := map[string]*DualWindow{}
	closeWin := func(addr string, end time.Duration) {
		w := open[addr]
		delete(open, addr)
		w.Len = end - w.From
		c.r.DualWindows = append(c.r.DualWindows, *w)
		if !w.Excused {
			c.violate(InvSingleHolder, w.From, "%s held by %s at once for %v (from t=%s)", addr, names(w.Nodes), w.Len, fmtT(w.From))
		}
	}
	var lastT time.Duration
	for _, s := range c.holders {
		c.r.HolderSamples++
		if s.Err != "" {
			c.r.HolderFailed++
			continue
		}
		lastT = s.T
		by := map[string][]int{}
		for i, addrs := range s.Held {
			for _, a := range addrs {
				by[a] = append(by[a], i+1)
			}
		}
		for addr, nodes := range by {
			if len(nodes) < 2 {
				continue
			}
			w, ok := open[addr]
			if !ok {
				w = &DualWindow{Addr: addr, From: s.T, Excused: true}
				open[addr] = w
			}
			for _, n := range nodes {
				if !slices.Contains(w.Nodes, n) {
					w.Nodes = append(w.Nodes, n)
				}
			}
			slices.Sort(w.Nodes)
			alive := 0
			for _, n := range nodes {
				if !dead(n, s.T) {
					alive++
				}
			}
			if alive > 1 {
				w.Excused = false
			}
		}
		for _, addr := range slices.Sorted(maps.Keys(open)) {
			if len(by[addr]) < 2 {
				closeWin(addr, s.T)
			}
		}
	}
	for _, addr := range slices.Sorted(maps.Keys(open)) {
		closeWin(addr, lastT+m.Sample)
	}
}

// expected returns the spans in which a quorum of nodes had been untouched
// by any fault for Settle: every fault makes its affected nodes unhealthy
// from its start to Settle after its end.
func (c *checker) expected() []Span {
	m := c.r.Meta
	var points []time.Duration
	points = append(points, 0, c.r.End)
	for _, f := range c.faults {
		points = append(points, f.span.From, f.span.To+m.Settle)
	}
	slices.Sort(points)
	points = slices.Compact(points)
	healthyAt := func(t time.Duration) int {
		n := 0
		for node := 1; node <= m.Nodes; node++ {
			ok := true
			for _, f := range c.faults {
				if slices.Contains(f.Affected, node) && f.span.From <= t && t < f.span.To+m.Settle {
					ok = false
					break
				}
			}
			if ok {
				n++
			}
		}
		return n
	}
	var out []Span
	for k := 0; k+1 < len(points); k++ {
		from, to := points[k], min(points[k+1], c.r.End)
		if from >= to || healthyAt(from) < m.Quorum() {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == from {
			out[n-1].To = to
		} else {
			out = append(out, Span{From: from, To: to})
		}
	}
	return out
}

// outages lists the client's outages: from the last answer before failed
// dials to the first answer after them (or the last dial).
func (c *checker) outages() []Span {
	var out []Span
	var lastOK time.Duration
	seen, failing := false, false
	for _, p := range c.probes {
		c.r.Probes++
		if p.Err != "" {
			failing = failing || seen
			if !seen {
				// Before the first answer: count from the first dial.
				lastOK, seen, failing = p.T, true, true
			}
			continue
		}
		c.r.Answered++
		if failing {
			out = append(out, Span{From: lastOK, To: p.T})
		}
		lastOK, seen, failing = p.T, true, false
	}
	if failing && len(c.probes) > 0 {
		out = append(out, Span{From: lastOK, To: c.probes[len(c.probes)-1].T})
	}
	if c.r.Probes > 0 {
		c.r.Availability = math.Round(float64(c.r.Answered)/float64(c.r.Probes)*10000) / 100
	}
	return out
}

// available is invariant 2.
func (c *checker) available(outages []Span) {
	m := c.r.Meta
	main := strings.Split(m.MainVIP, "/")[0]
	for _, exp := range c.expected() {
		c.r.QuorumTime += exp.Len()
		// The client unanswered for longer than MaxGap inside the span.
		for _, o := range outages {
			from, to := max(o.From, exp.From), min(o.To, exp.To)
			if to-from > m.MaxGap {
				c.violate(InvAvailable, from, "the client got no answer from %s for %v (t=%s..%s) while a quorum had been healthy since t=%s",
					main, to-from, fmtT(from), fmtT(to), fmtT(exp.From))
			}
		}
		// Nobody holding the main VIP for longer than MaxGap.
		var since time.Duration = -1
		check := func(end time.Duration) {
			if since >= 0 && end-since > m.MaxGap {
				c.violate(InvAvailable, since, "no node held %s for %v (t=%s..%s) while a quorum had been healthy since t=%s",
					main, end-since, fmtT(since), fmtT(end), fmtT(exp.From))
			}
		}
		for _, s := range c.holders {
			if s.Err != "" || s.T < exp.From || s.T >= exp.To {
				continue
			}
			held := false
			for _, addrs := range s.Held {
				held = held || slices.Contains(addrs, main)
			}
			switch {
			case !held && since < 0:
				since = s.T
			case held && since >= 0:
				check(s.T)
				since = -1
			}
		}
		check(exp.To)
	}
}

// faultStats sums up the faults by kind, with the outages around them.
func (c *checker) faultStats(outages []Span) {
	m := c.r.Meta
	window := func(f faultSpan) Span { return Span{From: f.span.From, To: f.span.To + m.Settle} }
	overlap := func(a, b Span) bool { return a.From < b.To && b.From < a.To }
	by := map[string]*FaultStat{}
	for _, f := range c.faults {
		st := by[f.Kind]
		if st == nil {
			st = &FaultStat{Kind: f.Kind}
			by[f.Kind] = st
		}
		st.Count++
		w := window(f)
		var longest time.Duration
		for _, o := range outages {
			if overlap(o, w) {
				longest = max(longest, o.Len())
			}
		}
		st.LongestOutage = max(st.LongestOutage, longest)
		hit := map[int]bool{}
		for _, g := range c.faults {
			if overlap(window(g), w) {
				for _, n := range g.Affected {
					hit[n] = true
				}
			}
		}
		if len(hit) <= m.Nodes-m.Quorum() {
			st.Quorate++
			st.QuorateLongest = max(st.QuorateLongest, longest)
			if longest > m.MaxGap {
				st.QuorateOverGap++
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(by)) {
		c.r.Faults = append(c.r.Faults, *by[k])
	}
	for _, o := range outages {
		if o.Len() > m.MaxGap/2 {
			c.r.Outages = append(c.r.Outages, o)
		}
	}
	slices.SortStableFunc(c.r.Outages, func(a, b Span) int { return cmp.Compare(b.Len(), a.Len()) })
	if len(c.r.Outages) > 20 {
		c.r.Outages = c.r.Outages[:20]
	}
}

// finals returns the final state of every node that reported one, and
// violates invariant 4 for a node that did not.
func (c *checker) finals() map[int]Event {
	out := map[int]Event{}
	for _, e := range c.evs {
		if e.Kind == KindFinal {
			out[e.Node] = e
		}
	}
	return out
}

// reference is the final state the lost-write check compares against: the
// leader's, else the lowest node's that has one.
func reference(finals map[int]Event) (int, *Final) {
	for _, n := range slices.Sorted(maps.Keys(finals)) {
		if f := finals[n].Final; f != nil && f.State == "Leader" {
			return n, f
		}
	}
	for _, n := range slices.Sorted(maps.Keys(finals)) {
		if f := finals[n].Final; f != nil {
			return n, f
		}
	}
	return 0, nil
}

// lostWrites is invariant 3. Calls on one key (a VIP, a member) never
// overlap in a soak, so the last acknowledged one decides, unless a later
// unanswered call (no answer, or 5xx) could have undone it. A refusal (4xx)
// changed nothing.
func (c *checker) lostWrites() {
	node, ref := reference(c.finals())
	if ref == nil {
		c.violate(InvNoLostWrite, c.r.End, "no node reported its final state: the writes cannot be checked")
		return
	}
	type op struct {
		t      time.Duration
		add    bool
		acked  bool
		unsure bool
	}
	ops := map[string][]op{}
	for _, e := range c.evs {
		if e.Kind != KindAPI || e.Call == nil || e.Call.Refused() {
			continue
		}
		var key string
		var add bool
		switch e.Call.Op {
		case OpVIPAdd, OpVIPRemove:
			key, add = "vip "+e.Call.Arg, e.Call.Op == OpVIPAdd
		case OpJoin, OpLeave:
			key, add = "member "+e.Call.Arg, e.Call.Op == OpJoin
		default:
			continue
		}
		ops[key] = append(ops[key], op{t: e.T, add: add, acked: e.Call.Acked(), unsure: !e.Call.Acked()})
	}
	has := func(key string) bool {
		kind, name, _ := strings.Cut(key, " ")
		if kind == "vip" {
			return slices.Contains(ref.VIPs, name)
		}
		for _, m := range ref.Members {
			if id, _, _ := strings.Cut(m, ":"); id == name {
				return true
			}
		}
		return false
	}
	for _, key := range slices.Sorted(maps.Keys(ops)) {
		list := ops[key]
		last := -1
		for k, o := range list {
			if o.acked {
				last = k
			}
		}
		if last < 0 {
			continue // nothing acknowledged: nothing can be lost
		}
		want := list[last].add
		decided := true
		for _, o := range list[last+1:] {
			if o.unsure && o.add != want {
				decided = false
			}
		}
		if decided && has(key) != want {
			state := map[bool]string{true: "present", false: "absent"}
			c.violate(InvNoLostWrite, list[last].t, "%s is %s in n%d's final state, but the acknowledged call at t=%s made it %s",
				key, state[has(key)], node, fmtT(list[last].t), state[want])
		}
	}
}

// mistakes is part of invariant 3: an operator mistake the cluster
// acknowledged (2xx) is a write that must never have happened. An answer
// other than 2xx or 4xx (no leader, a timeout) is not a verdict either way;
// mistakesUndone judges its effect on the final state.
func (c *checker) mistakes() {
	for _, e := range c.evs {
		if e.Kind != KindAPI || e.Call == nil || !isMistake(e.Call.Op) || !e.Call.Acked() {
			continue
		}
		c.violate(InvNoLostWrite, e.T, "n%d acknowledged an operator mistake it must refuse: %s %s (HTTP %d: %s)",
			e.Node, e.Call.Op, e.Call.Arg, e.Call.Code, e.Call.Body)
	}
}

func isMistake(op string) bool { return op == OpMistakeVIP || op == OpMistakeJoin }

// mistakesUndone: no VIP a mistake named is in the final VIP set, and no ID a
// mistaken join named is a member, unless it is one of the lab's own nodes
// (a live member joined again at a mistyped address stays a member).
func (c *checker) mistakesUndone() {
	node, ref := reference(c.finals())
	if ref == nil {
		return
	}
	seen := map[string]bool{}
	for _, e := range c.evs {
		if e.Kind != KindAPI || e.Call == nil || !isMistake(e.Call.Op) || seen[e.Call.Op+e.Call.Arg] {
			continue
		}
		seen[e.Call.Op+e.Call.Arg] = true
		switch arg := e.Call.Arg; e.Call.Op {
		case OpMistakeVIP:
			if slices.Contains(ref.VIPs, arg) {
				c.violate(InvNoLostWrite, e.T, "%s, a member's address added as a VIP at t=%s, is in n%d's final VIP set", arg, fmtT(e.T), node)
			}
		case OpMistakeJoin:
			if c.labNode(arg) {
				continue
			}
			for _, m := range ref.Members {
				if id, _, _ := strings.Cut(m, ":"); id == arg {
					c.violate(InvNoLostWrite, e.T, "%s, joined at a wrong address at t=%s, is a member in n%d's final state", arg, fmtT(e.T), node)
				}
			}
		}
	}
}

// labNode reports whether id names one of the run's nodes (n1..nN).
func (c *checker) labNode(id string) bool {
	for n := 1; n <= c.r.Meta.Nodes; n++ {
		if id == fmt.Sprintf("n%d", n) {
			return true
		}
	}
	return false
}

// converged is invariant 4.
func (c *checker) converged() {
	finals := c.finals()
	m := c.r.Meta
	var leaders []int
	ref, refNode := (*Final)(nil), 0
	for n := 1; n <= m.Nodes; n++ {
		e, ok := finals[n]
		switch {
		case !ok:
			c.violate(InvConverged, c.r.End, "n%d reported no final state", n)
			continue
		case e.Err != "" || e.Final == nil:
			c.violate(InvConverged, e.T, "n%d's final state could not be read: %s", n, e.Err)
			continue
		}
		f := e.Final
		if f.State == "Leader" {
			leaders = append(leaders, n)
		}
		if ref == nil {
			ref, refNode = f, n
			continue
		}
		for _, d := range []struct {
			what     string
			got, ref string
		}{
			{"VIP set", strings.Join(f.VIPs, ","), strings.Join(ref.VIPs, ",")},
			{"members", strings.Join(f.Members, ","), strings.Join(ref.Members, ",")},
			{"owner", f.Owner, ref.Owner},
			{"leader", f.LeaderID, ref.LeaderID},
		} {
			if d.got != d.ref {
				c.violate(InvConverged, e.T, "n%d's %s is [%s], n%d's is [%s]", n, d.what, d.got, refNode, d.ref)
			}
		}
	}
	if ref == nil {
		return
	}
	if len(leaders) != 1 {
		c.violate(InvConverged, c.r.End, "%d leaders at the end (%s), want 1", len(leaders), names(leaders))
	} else if want := fmt.Sprintf("n%d", leaders[0]); ref.Owner != want || ref.LeaderID != want {
		c.violate(InvConverged, c.r.End, "the leader is %s but the nodes name leader %q and owner %q", want, ref.LeaderID, ref.Owner)
	}
	if m.MainVIP != "" && !slices.Contains(ref.VIPs, m.MainVIP) {
		c.violate(InvConverged, c.r.End, "the final VIP set [%s] lacks the main VIP %s", strings.Join(ref.VIPs, ","), m.MainVIP)
	}
	// The kernel at the last sample: the owner alone holds every VIP.
	for k := len(c.holders) - 1; k >= 0 && len(leaders) == 1; k-- {
		s := c.holders[k]
		if s.Err != "" {
			continue
		}
		for _, v := range ref.VIPs {
			addr := strings.Split(v, "/")[0]
			var got []int
			for i, addrs := range s.Held {
				if slices.Contains(addrs, addr) {
					got = append(got, i+1)
				}
			}
			if !slices.Equal(got, leaders) {
				c.violate(InvConverged, s.T, "at the last sample %s was held by %s, want the leader n%d alone", addr, names(got), leaders[0])
			}
		}
		break
	}
}

// noCrash is invariant 5: every exit follows a SIGKILL or SIGTERM of the
// nemesis since that node's last start; no panic; no clear growth.
func (c *checker) noCrash(trends bool) {
	asked := map[int]bool{}
	for _, e := range c.evs {
		switch e.Kind {
		case KindStart:
			asked[e.Node] = false
		case KindSignal:
			if e.Signal == "KILL" || e.Signal == "TERM" {
				asked[e.Node] = true
			}
		case KindExit:
			if !asked[e.Node] {
				c.violate(InvNoCrash, e.T, "n%d (pid %d) exited unasked: code %d %s", e.Node, e.PID, e.Code, e.Err)
			}
		case KindPanic:
			c.violate(InvNoCrash, e.T, "n%d's log: %s", e.Node, e.Line)
		case KindStuck:
			c.violate(InvNoCrash, e.T, "n%d %s", e.Node, e.Line)
		}
	}
	c.resources(trends)
}

// Growth margins: a figure grows clearly when the median of the last third
// of a process's samples exceeds the first third's by half and by this much.
const (
	growRSSKiB      = 32 * 1024
	growFDs         = 64
	growGoroutines  = 200
	growFactor      = 1.5
	minTrendSamples = 6
)

func (c *checker) resources(judge bool) {
	type key struct{ node, pid int }
	by := map[key][]Event{}
	var keys []key
	for _, e := range c.evs {
		if e.Kind != KindRes || e.Res == nil {
			continue
		}
		k := key{e.Node, e.PID}
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], e)
	}
	for _, k := range keys {
		s := by[k]
		tr := Trend{Node: k.node, PID: k.pid, Span: s[len(s)-1].T - s[0].T}
		tr.Judged = judge && tr.Span >= c.r.Meta.ResourceMinSpan && len(s) >= minTrendSamples
		var grew []string
		for _, f := range []struct {
			name   string
			get    func(Res) float64
			slope  *float64
			margin float64
		}{
			{"RSS", func(r Res) float64 { return r.RSSKiB }, &tr.RSSKiBPerMin, growRSSKiB},
			{"open files", func(r Res) float64 { return r.FDs }, &tr.FDsPerMin, growFDs},
			{"goroutines", func(r Res) float64 { return r.Goroutines }, &tr.GoroutinesPerMin, growGoroutines},
		} {
			var ts, vs []float64
			for _, e := range s {
				if v := f.get(*e.Res); v >= 0 {
					ts, vs = append(ts, (e.T-s[0].T).Minutes()), append(vs, v)
				}
			}
			*f.slope = math.Round(slope(ts, vs)*100) / 100
			if !tr.Judged || len(vs) < minTrendSamples {
				continue
			}
			third := len(vs) / 3
			first, last := median(vs[:third]), median(vs[len(vs)-third:])
			if *f.slope > 0 && last > first*growFactor && last-first > f.margin {
				grew = append(grew, fmt.Sprintf("%s %.0f → %.0f", f.name, first, last))
			}
		}
		if len(grew) > 0 {
			tr.Growing = strings.Join(grew, ", ")
			c.violate(InvNoCrash, s[len(s)-1].T, "n%d (pid %d) grew over %v: %s", k.node, k.pid, tr.Span.Round(time.Second), tr.Growing)
		}
		c.r.Resources = append(c.r.Resources, tr)
	}
}

// slope is the least-squares slope of vs over ts (0 with fewer than 2 points).
func slope(ts, vs []float64) float64 {
	n := float64(len(ts))
	if n < 2 {
		return 0
	}
	var st, sv, stt, stv float64
	for k := range ts {
		st, sv, stt, stv = st+ts[k], sv+vs[k], stt+ts[k]*ts[k], stv+ts[k]*vs[k]
	}
	d := n*stt - st*st
	if d == 0 {
		return 0
	}
	return (n*stv - st*sv) / d
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	return s[len(s)/2]
}

// ViolationCount is the number of violations.
func (r Report) ViolationCount() int { return len(r.Violations) }

func names(nodes []int) string {
	if len(nodes) == 0 {
		return "nobody"
	}
	s := make([]string, len(nodes))
	for k, n := range nodes {
		s[k] = fmt.Sprintf("n%d", n)
	}
	return strings.Join(s, ",")
}

// fmtT formats a history time as seconds with milliseconds: "12.345s".
func fmtT(t time.Duration) string { return fmt.Sprintf("%.3fs", t.Seconds()) }
