package history

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const (
	ms     = time.Millisecond
	sec    = time.Second
	mainV  = "192.0.2.100/24"
	mainIP = "192.0.2.100"
)

// hist builds a history by hand: a three-node cluster, samples every 10 ms.
type hist struct {
	evs    []Event
	nextID int
	addrs  []string // what a holder holds in the samples held adds
}

func newHist() *hist {
	return &hist{addrs: []string{mainIP}, evs: []Event{{Kind: KindMeta, Meta: &Meta{
		Nodes: 3, MainVIP: mainV, VIPs: []string{mainV}, Lease: sec, Sample: 10 * ms, Election: 200 * ms,
		Settle: 5200 * ms, MaxGap: 5 * sec, KernelSlack: 250 * ms, ResourceMinSpan: 2 * time.Minute,
	}}}}
}

func (h *hist) add(e Event) { h.evs = append(h.evs, e) }

// held adds holder samples from..to (exclusive) in which the given nodes
// hold the main VIP.
func (h *hist) held(from, to time.Duration, nodes ...int) {
	for t := from; t < to; t += 10 * ms {
		held := make([][]string, 3)
		for _, n := range nodes {
			held[n-1] = h.addrs
		}
		h.add(Event{T: t, Kind: KindHolders, Held: held})
	}
}

// answered adds probe dials from..to answered by node (0: failed).
func (h *hist) answered(from, to time.Duration, node int) {
	for t := from; t < to; t += 10 * ms {
		if node == 0 {
			h.add(Event{T: t, Kind: KindProbe, Err: "timeout"})
		} else {
			h.add(Event{T: t, Kind: KindProbe, Answer: "n" + string(rune('0'+node))})
		}
	}
}

func (h *hist) fault(kind string, from, to time.Duration, affected ...int) {
	h.nextID++
	f := Fault{ID: h.nextID, Kind: kind, Targets: affected, Affected: affected}
	start, end := f, f
	start.Phase, end.Phase = PhaseStart, PhaseEnd
	h.add(Event{T: from, Kind: KindFault, Fault: &start})
	h.add(Event{T: to, Kind: KindFault, Fault: &end})
}

func (h *hist) call(t time.Duration, op, arg string, code int) {
	h.add(Event{T: t, Kind: KindAPI, Node: 1, Call: &Call{Op: op, Arg: arg, Code: code, Took: 20 * ms}})
}

// finals adds every node's final state: leader leader, VIP set vips.
func (h *hist) finals(t time.Duration, leader int, vips ...string) {
	for n := 1; n <= 3; n++ {
		state := "Follower"
		if n == leader {
			state = "Leader"
		}
		l := "n" + string(rune('0'+leader))
		h.add(Event{T: t, Kind: KindFinal, Node: n, Final: &Final{State: state, LeaderID: l, Owner: l,
			VIPs: vips, Members: []string{"n1:voter", "n2:voter", "n3:voter"}}})
	}
}

// clean is a run where n1's daemon is SIGKILLed at 10 s: n2 takes over at
// 10.4 s while n1's VIP stays in its kernel until 10.8 s (excused), the
// client is out 10.0..10.4 s, n1 restarts at 12 s, a VIP is added.
func clean() *hist {
	h := newHist()
	for n := 1; n <= 3; n++ {
		h.add(Event{T: 0, Kind: KindStart, Node: n, PID: 100 + n})
	}
	h.held(0, 10400*ms, 1)
	h.held(10400*ms, 10800*ms, 1, 2)
	h.held(10800*ms, 20*sec, 2)
	h.addrs = []string{mainIP, "192.0.2.101"}
	h.held(20*sec, 30*sec, 2)
	h.answered(0, 10*sec, 1)
	h.answered(10*sec, 10400*ms, 0)
	h.answered(10400*ms, 30*sec, 2)
	h.fault("kill", 10*sec, 12*sec, 1)
	h.add(Event{T: 10 * sec, Kind: KindSignal, Node: 1, Signal: "KILL"})
	h.add(Event{T: 10*sec + ms, Kind: KindExit, Node: 1, PID: 101, Code: -1, Err: "signal: killed"})
	h.add(Event{T: 12 * sec, Kind: KindStart, Node: 1, PID: 201})
	h.call(20*sec, OpVIPAdd, "192.0.2.101/24", 200)
	h.finals(31*sec, 2, mainV, "192.0.2.101/24")
	return h
}

func violations(t *testing.T, h *hist, inv int) []Violation {
	t.Helper()
	r := Check(h.evs, false)
	var out []Violation
	for _, v := range r.Violations {
		if v.Invariant == inv {
			out = append(out, v)
		} else {
			t.Errorf("unexpected violation of invariant %d: %s", v.Invariant, v.What)
		}
	}
	return out
}

func TestCleanHistory(t *testing.T) {
	r := Check(clean().evs, false)
	for _, v := range r.Violations {
		t.Errorf("violation of invariant %d in a clean history: %s\n%s", v.Invariant, v.What, strings.Join(v.Excerpt, "\n"))
	}
	if len(r.DualWindows) != 1 || !r.DualWindows[0].Excused || r.DualWindows[0].Len != 400*ms {
		t.Errorf("dual windows %+v, want one excused of 400ms", r.DualWindows)
	}
	for _, v := range r.Verdicts {
		if !v.Judged || v.Violations != 0 {
			t.Errorf("verdict %s", v)
		}
	}
	if len(r.Faults) != 1 || r.Faults[0].Kind != "kill" || r.Faults[0].LongestOutage != 410*ms || r.Faults[0].Quorate != 1 || r.Faults[0].QuorateLongest != 410*ms {
		t.Errorf("fault stats %+v", r.Faults)
	}
	if r.QuorumTime != r.End {
		t.Errorf("a quorum was healthy for %v of %v, want all along (one node affected)", r.QuorumTime, r.End)
	}
	if r.Availability >= 100 || r.Availability < 98 {
		t.Errorf("availability %v%%", r.Availability)
	}
}

func TestDualHolderUnderPartition(t *testing.T) {
	h := newHist()
	h.held(0, 10*sec, 1)
	h.held(10*sec, 10200*ms, 1, 2) // n1 partitioned but still holding
	h.held(10200*ms, 20*sec, 2)
	h.answered(0, 20*sec, 1)
	h.fault("partition_leader", 9800*ms, 15*sec, 1)
	h.finals(21*sec, 2, mainV)
	v := violations(t, h, InvSingleHolder)
	if len(v) != 1 || !strings.Contains(v[0].What, "n1,n2") || !strings.Contains(v[0].What, "200ms") {
		t.Fatalf("violations %+v, want n1,n2 for 200ms", v)
	}
	if !strings.Contains(strings.Join(v[0].Excerpt, "\n"), "partition_leader start") {
		t.Errorf("excerpt lacks the fault:\n%s", strings.Join(v[0].Excerpt, "\n"))
	}
}

func TestDualHolderPastKernelLease(t *testing.T) {
	h := newHist()
	h.held(0, 10400*ms, 1)
	h.held(10400*ms, 12*sec, 1, 2) // killed at 10 s, still holding at 12 s
	h.held(12*sec, 20*sec, 2)
	h.answered(0, 20*sec, 1)
	h.fault("kill", 10*sec, 15*sec, 1)
	h.add(Event{T: 10 * sec, Kind: KindSignal, Node: 1, Signal: "KILL"})
	h.add(Event{T: 10 * sec, Kind: KindExit, Node: 1, Code: -1})
	h.finals(21*sec, 2, mainV)
	if v := violations(t, h, InvSingleHolder); len(v) != 1 {
		t.Fatalf("violations %+v, want one", v)
	}
}

func TestUnavailableWithHealthyQuorum(t *testing.T) {
	h := newHist()
	h.held(0, 15*sec, 1)
	h.held(15*sec, 22*sec) // nobody, no fault
	h.held(22*sec, 30*sec, 1)
	h.answered(0, 15*sec, 1)
	h.answered(15*sec, 22*sec, 0)
	h.answered(22*sec, 30*sec, 1)
	h.finals(31*sec, 1, mainV)
	v := violations(t, h, InvAvailable)
	if len(v) != 2 {
		t.Fatalf("violations %+v, want the client's and the holders'", v)
	}
}

func TestNoAvailabilityOwedWithoutQuorum(t *testing.T) {
	h := newHist()
	h.held(0, 15*sec, 1)
	h.held(15*sec, 22*sec)
	h.held(22*sec, 30*sec, 1)
	h.answered(0, 15*sec, 1)
	h.answered(15*sec, 22*sec, 0)
	h.answered(22*sec, 30*sec, 1)
	h.fault("quorum_loss", 15*sec, 21*sec, 1, 2)
	h.finals(31*sec, 1, mainV)
	violations(t, h, 0)
	r := Check(h.evs, false)
	if want := r.End - (21*sec + 5200*ms - 15*sec); r.QuorumTime != want {
		t.Errorf("a quorum was healthy for %v, want %v", r.QuorumTime, want)
	}
	if len(r.Faults) != 1 || r.Faults[0].LongestOutage != 7010*ms || r.Faults[0].Quorate != 0 {
		t.Errorf("fault stats %+v, want a 7s outage without a quorum", r.Faults)
	}
}

func TestLostWrites(t *testing.T) {
	const v1, v2, v3, v4 = "192.0.2.101/24", "192.0.2.102/24", "192.0.2.103/24", "192.0.2.104/24"
	h := clean()
	h.evs = h.evs[:len(h.evs)-3]       // drop its finals
	h.call(21*sec, OpVIPAdd, v2, 200)  // acked, then lost
	h.call(22*sec, OpVIPAdd, v3, 200)  // acked, then removed without answer: either way
	h.call(23*sec, OpVIPRemove, v3, 0) //
	h.call(24*sec, OpVIPAdd, v4, 503)  // never acked: either way
	h.call(25*sec, OpLeave, "n3", 200) // acked leave, then a refused join:
	h.call(26*sec, OpJoin, "n3", 400)  // n3 must be gone
	h.addrs = []string{mainIP, "192.0.2.101", "192.0.2.104"}
	h.held(30*sec, 30010*ms, 2)
	h.finals(31*sec, 2, mainV, v1, v4) // n3 still a member, v2 missing
	v := violations(t, h, InvNoLostWrite)
	if len(v) != 2 || !strings.Contains(v[0].What, "vip "+v2) || !strings.Contains(v[1].What, "member n3") {
		t.Fatalf("violations %+v, want n3 and %s", v, v2)
	}
}

func TestMistakesAcknowledged(t *testing.T) {
	const member = "192.0.2.12/24"
	h := clean()
	h.evs = h.evs[:len(h.evs)-3]                       // drop its finals
	h.call(21*sec, OpMistakeVIP, "192.0.2.11/24", 409) // refused: fine
	h.call(22*sec, OpMistakeJoin, "n9", 400)           // refused: fine
	h.call(23*sec, OpMistakeJoin, "n3", 409)           // refused: fine
	h.call(24*sec, OpMistakeVIP, member, 503)          // no verdict, but it was applied
	h.call(25*sec, OpMistakeJoin, "n8", 200)           // acknowledged, and applied
	h.addrs = []string{mainIP, "192.0.2.101", "192.0.2.12"}
	h.held(30*sec, 30010*ms, 2)
	for n := 1; n <= 3; n++ {
		state, l := "Follower", "n2"
		if n == 2 {
			state = "Leader"
		}
		h.add(Event{T: 31 * sec, Kind: KindFinal, Node: n, Final: &Final{State: state, LeaderID: l, Owner: l,
			VIPs: []string{mainV, "192.0.2.101/24", member}, Members: []string{"n1:voter", "n2:voter", "n3:voter", "n8:voter"}}})
	}
	v := violations(t, h, InvNoLostWrite)
	var what []string
	for _, x := range v {
		what = append(what, x.What)
	}
	all := strings.Join(what, "\n")
	if len(v) != 3 || !strings.Contains(all, "acknowledged an operator mistake") || !strings.Contains(all, member+", a member's address") ||
		!strings.Contains(all, "n8, joined at a wrong address") {
		t.Fatalf("violations:\n%s\nwant the acknowledged join of n8, n8 a member, and %s in the VIP set", all, member)
	}
}

func TestNotConverged(t *testing.T) {
	h := clean()
	h.evs = h.evs[:len(h.evs)-3]
	h.finals(31*sec, 2, mainV, "192.0.2.101/24")
	h.evs[len(h.evs)-1].Final.VIPs = []string{mainV} // n3 lags
	v := violations(t, h, InvConverged)
	if len(v) != 1 || !strings.Contains(v[0].What, "n3's VIP set") {
		t.Fatalf("violations %+v, want n3's VIP set", v)
	}
	h.evs[len(h.evs)-3].Final.State = "Leader" // n1 claims to lead too
	if v := violations(t, h, InvConverged); len(v) != 2 || !strings.Contains(v[1].What, "2 leaders") {
		t.Fatalf("violations %+v, want two leaders too", v)
	}
}

func TestUnaskedExitAndPanic(t *testing.T) {
	h := clean()
	h.add(Event{T: 25 * sec, Kind: KindExit, Node: 3, PID: 103, Code: 2})
	h.add(Event{T: 25 * sec, Kind: KindPanic, Node: 3, Line: "panic: runtime error: index out of range"})
	h.add(Event{T: 26 * sec, Kind: KindStuck, Node: 2, Line: "did not exit within 20s of SIGTERM"})
	v := violations(t, h, InvNoCrash)
	if len(v) != 3 || !strings.Contains(v[0].What, "exited unasked") || !strings.Contains(v[1].What, "panic") || !strings.Contains(v[2].What, "n2 did not exit") {
		t.Fatalf("violations %+v", v)
	}
}

func TestResourceGrowth(t *testing.T) {
	h := clean()
	for k := range 60 {
		at := time.Duration(k) * 5 * sec
		h.add(Event{T: at, Kind: KindRes, Node: 2, PID: 102, Res: &Res{RSSKiB: 20000, FDs: 20, Goroutines: float64(50 + 10*k)}})
		h.add(Event{T: at, Kind: KindRes, Node: 3, PID: 103, Res: &Res{RSSKiB: 20000 + float64(k%3), FDs: 20, Goroutines: 50}})
	}
	v := violations(t, h, InvNoCrash)
	if len(v) != 1 || !strings.Contains(v[0].What, "n2") || !strings.Contains(v[0].What, "goroutines") {
		t.Fatalf("violations %+v, want n2's goroutines", v)
	}
	r := Check(h.evs, false)
	if len(r.Resources) != 2 || r.Resources[0].GoroutinesPerMin != 120 || !r.Resources[1].Judged || r.Resources[1].Growing != "" {
		t.Errorf("trends %+v", r.Resources)
	}
}

func TestPartialCheck(t *testing.T) {
	h := clean()
	h.evs = h.evs[:len(h.evs)-3] // no finals yet
	r := Check(h.evs, true)
	if len(r.Violations) != 0 {
		t.Errorf("violations in a partial check: %+v", r.Violations)
	}
	if !strings.Contains(Live(h.evs), "violations 0") {
		t.Errorf("live line: %s", Live(h.evs))
	}
}

func TestRecordAndRead(t *testing.T) {
	var buf bytes.Buffer
	start := time.Now()
	rec := NewRecorder(&buf, start)
	for _, e := range clean().evs {
		rec.Add(e)
	}
	if err := rec.Flush(); err != nil {
		t.Fatal(err)
	}
	evs, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	a, b := Check(evs, false), Check(clean().evs, false)
	if len(evs) != len(clean().evs) || a.Probes != b.Probes || len(a.DualWindows) != 1 || len(a.Violations) != 0 {
		t.Errorf("read back %d events, %d probes, %d dual windows, %d violations", len(evs), a.Probes, len(a.DualWindows), len(a.Violations))
	}
}
