package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

const ms = time.Millisecond

// failoverReport is a probe report 10 ms per sample: n1 answers and holds,
// the fault at 20 ms, two failed dials, then n2; n1 and n2 both hold at 30 ms.
func failoverReport() probe.Report {
	nodes := []string{"n1", "n1", "n1", "", "", "n2", "n2"}
	holders := [][]int{{1}, {1}, {1}, {1, 2}, {2}, {2}, {2}}
	r := probe.Report{VIP: netip.MustParseAddr("192.0.2.100"), Duration: 70 * ms}
	for i, n := range nodes {
		d := probe.Dial{At: time.Duration(i) * 10 * ms, Node: n}
		if n == "" {
			d.Err = "timeout"
		}
		r.Dials = append(r.Dials, d)
		r.States = append(r.States, probe.State{At: time.Duration(i) * 10 * ms, Holders: holders[i]})
	}
	return r
}

func TestGroupOf(t *testing.T) {
	g := GroupOf("raftvip, lan profile", failoverReport(), 20*ms, 3, Mark{At: 40 * ms, Label: "heal"})
	want := Group{
		Title: "raftvip, lan profile", Start: -20 * ms, End: 50 * ms,
		Client: Lane{Label: "client answered by", Segs: []Seg{{-20 * ms, 10 * ms, 1}, {30 * ms, 50 * ms, 2}}},
		Holders: []Lane{
			{Label: "n1 holds VIP", Segs: []Seg{{-20 * ms, 20 * ms, 1}}},
			{Label: "n2 holds VIP", Segs: []Seg{{10 * ms, 50 * ms, 2}}},
			{Label: "n3 holds VIP"},
		},
		Marks: []Mark{{At: 0, Label: "fault"}, {At: 40 * ms, Label: "heal"}},
	}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("GroupOf (-want +got):\n%s", diff)
	}
}

func TestHolderChanges(t *testing.T) {
	r := failoverReport()
	r.States = append(r.States, probe.State{At: 70 * ms, Err: "netlink"}, probe.State{At: 80 * ms, Holders: []int{2}})
	// [1] → [1 2] → [2]; the unreadable sample changes nothing.
	if got := HolderChanges(r.States); got != 2 {
		t.Errorf("HolderChanges = %d, want 2", got)
	}
}

func TestWriteSVG(t *testing.T) {
	g := GroupOf("raftvip <lan> & co", failoverReport(), 20*ms, 3)
	var buf bytes.Buffer
	if err := WriteSVG(&buf, "hostdown", FailoverLabels(), []Group{g, g}, -20*ms, 50*ms); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, titles escaped, one bar per segment in the node colours.
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v\n%s", err, buf.String())
		}
	}
	svg := buf.String()
	if !strings.Contains(svg, "raftvip &lt;lan&gt; &amp; co") {
		t.Error("group title not escaped")
	}
	if got := strings.Count(svg, `fill="`+NodeColour(2)+`"`); got != 2*2+1 {
		t.Errorf("%d n2-coloured shapes, want 2 per group and 1 in the legend", got)
	}
}

// A seven-node cluster has a lane per node, and the legend names every
// node in a colour of its own.
func TestWriteSVGSevenNodes(t *testing.T) {
	g := GroupOf("raftvip, lan-7n profile", failoverReport(), 20*ms, 7)
	if len(g.Holders) != 7 {
		t.Fatalf("%d holder lanes, want 7", len(g.Holders))
	}
	var buf bytes.Buffer
	if err := WriteSVG(&buf, "hostdown", FailoverLabels(), []Group{g}, -20*ms, 50*ms); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	colours := map[string]bool{}
	for n := 1; n <= 7; n++ {
		colours[NodeColour(n)] = true
		if !strings.Contains(svg, fmt.Sprintf(`fill="%s"/><text x="%d" y="37">n%d</text>`, NodeColour(n), 26+50*(n-1), n)) {
			t.Errorf("legend lacks n%d", n)
		}
	}
	if len(colours) != 7 || colours[NodeColour(0)] {
		t.Errorf("seven nodes share colours: %v", colours)
	}
}

func TestNiceStep(t *testing.T) {
	for _, tt := range []struct{ span, want time.Duration }{
		{100 * ms, 10 * ms}, {time.Second, 100 * ms}, {4 * time.Second, 500 * ms}, {10 * time.Second, time.Second},
	} {
		if got := niceStep(tt.span); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.span, got, tt.want)
		}
	}
}

func TestHolderMoves(t *testing.T) {
	r := failoverReport()
	want := []HolderChange{{At: 30 * ms, From: []int{1}, To: []int{1, 2}}, {At: 40 * ms, From: []int{1, 2}, To: []int{2}}}
	if diff := cmp.Diff(want, HolderMoves(r.States)); diff != "" {
		t.Errorf("HolderMoves (-want +got):\n%s", diff)
	}
}

func TestOutagesAfter(t *testing.T) {
	r := failoverReport() // answers until 20 ms, fails at 30 and 40 ms, n2 from 50 ms
	want := []probe.Window{{From: -5 * ms, Length: 30 * ms}}
	if diff := cmp.Diff(want, OutagesAfter(r, 25*ms)); diff != "" {
		t.Errorf("OutagesAfter(25ms) (-want +got):\n%s", diff)
	}
	if got := OutagesAfter(r, 51*ms); len(got) != 0 {
		t.Errorf("OutagesAfter(51ms) = %v, want none: the outage ended at 50 ms", got)
	}
}

func TestWriteSVGLabels(t *testing.T) {
	g := GroupOf("raftvip, lan profile", failoverReport(), 20*ms, 3)
	var buf bytes.Buffer
	lb := Labels{Marks: "R = restart, F = freeze", Axis: "time since the run began"}
	if err := WriteSVG(&buf, "disturbance", lb, []Group{g}, 0, 50*ms); err != nil {
		t.Fatal(err)
	}
	svg := buf.String()
	for _, want := range []string{"R = restart, F = freeze", "time since the run began"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Contains(svg, "time since the fault") || strings.Contains(svg, "red line = fault") {
		t.Error("SVG still speaks of a fault")
	}
}

// recoveryReport is failoverReport followed by the old holder's return at
// 70 ms: the client fails once at 80 ms and is then answered by n1 again,
// as keepalived's preemption does.
func recoveryReport() probe.Report {
	r := failoverReport()
	for i, n := range []string{"n2", "", "n1", "n1"} {
		d := probe.Dial{At: time.Duration(7+i) * 10 * ms, Node: n}
		if n == "" {
			d.Err = "timeout"
		}
		r.Dials = append(r.Dials, d)
	}
	r.Duration = 110 * ms
	return r
}

func TestAfterRecovery(t *testing.T) {
	// The outage runs from the last answer (70 ms), before the recovery.
	outages, switches := AfterRecovery(recoveryReport(), 75*ms)
	want := []probe.Window{{From: -5 * ms, Length: 20 * ms}}
	if diff := cmp.Diff(want, outages); diff != "" {
		t.Errorf("outages after the recovery at 75ms (-want +got):\n%s", diff)
	}
	if switches != 1 {
		t.Errorf("switches after the recovery = %d, want 1 (n2 back to n1)", switches)
	}
	// An outage under way at the recovery (failed dials at 30 and 40 ms)
	// is the failover's, not the recovery's.
	if outages, _ := AfterRecovery(failoverReport(), 35*ms); len(outages) != 0 {
		t.Errorf("AfterRecovery(failover, 35ms) = %v, want no outage", outages)
	}
	if outages, switches := AfterRecovery(failoverReport(), 55*ms); len(outages) != 0 || switches != 0 {
		t.Errorf("AfterRecovery(failover, 55ms) = %v, %d switches; want none", outages, switches)
	}
}
