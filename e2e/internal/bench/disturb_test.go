package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

// disturbedReport is a probe report 10 ms per sample over 200 ms: n1 answers
// and holds throughout, but for two outages (dials failing at 30 ms, and at
// 120-150 ms, over a dual holder at 150 ms); the run began at 20 ms.
func disturbedReport() probe.Report {
	r := probe.Report{Duration: 200 * ms}
	for i := range 20 {
		at := time.Duration(i) * 10 * ms
		d := probe.Dial{At: at, Node: "n1"}
		if i == 3 || (i >= 12 && i <= 15) {
			d = probe.Dial{At: at, Err: "timeout"}
		}
		s := probe.State{At: at, Holders: []int{1}}
		switch i {
		case 15:
			s.Holders = []int{1, 2}
		case 17:
			s = probe.State{At: at, Err: "netlink"}
		}
		r.Dials, r.States = append(r.Dials, d), append(r.States, s)
	}
	return r
}

func TestDisturbanceObserve(t *testing.T) {
	var d Disturbance
	d.Observe(disturbedReport(), 20*ms)
	d.Judge()
	want := Disturbance{
		Moves: []Move{{AtMs: 130, From: []int{1}, To: []int{1, 2}}, {AtMs: 140, From: []int{1, 2}, To: []int{1}}},
		// From the last answer before the failed dials to the first after;
		// n1 held the VIP alone through the first, not through the second.
		Outages:       []Outage{{AtMs: 0, Ms: 20, HeldBy: []int{1}, FailedDials: 1}, {AtMs: 90, Ms: 50, FailedDials: 4}},
		OutageTotalMs: 70, LongestMs: 50,
		HolderSamples: 18, HolderFailed: 1,
		Probes: 18, Answered: 13,
		Verdict: "fail (2 holder changes, 2 outages)",
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("Observe (-want +got):\n%s", diff)
	}
	if got := d.AnsweredPct(); got < 72.2 || got > 72.3 {
		t.Errorf("AnsweredPct = %.2f, want 13 of 18 = 72.22", got)
	}
}

func TestDisturbanceObserveFromStart(t *testing.T) {
	// Counting from 155 ms: the return to one holder at 160 ms, and the
	// outage that began before the start but ended after it, at 160 ms.
	var d Disturbance
	d.Observe(disturbedReport(), 155*ms)
	want := []Outage{{AtMs: -45, Ms: 50, FailedDials: 4}}
	if len(d.Moves) != 1 || d.Moves[0].AtMs != 5 || !cmp.Equal(want, d.Outages) {
		t.Errorf("from 155 ms: moves %v, outages %v; want one move at +5 ms and outages %v", d.Moves, d.Outages, want)
	}
	d.Observe(disturbedReport(), 165*ms)
	if len(d.Moves)+len(d.Outages) != 0 {
		t.Errorf("from 165 ms: moves %v, outages %v; want none", d.Moves, d.Outages)
	}
}

func TestDisturbanceVerdict(t *testing.T) {
	clean := Disturbance{HolderSamples: 100, Restarts: 2, Freezes: 3}
	for _, tc := range []struct {
		name string
		d    func(Disturbance) Disturbance
		want string
	}{
		{"clean", func(d Disturbance) Disturbance { return d }, "pass"},
		{"one outage", func(d Disturbance) Disturbance { d.Outages = []Outage{{AtMs: 1, Ms: 20}}; return d }, "fail (1 outage)"},
		{"one move", func(d Disturbance) Disturbance { d.Moves = []Move{{AtMs: 1}}; return d }, "fail (1 holder change)"},
		{"error", func(d Disturbance) Disturbance { d.Err = "restart n2: boom"; return d }, "fail (error)"},
		{"blind", func(d Disturbance) Disturbance { d.HolderFailed = d.HolderSamples; return d }, "fail (holders not sampled)"},
		{"nothing at all", func(Disturbance) Disturbance { return Disturbance{} }, "fail (holders not sampled)"},
	} {
		d := tc.d(clean)
		d.Judge()
		if d.Verdict != tc.want {
			t.Errorf("%s: verdict %q, want %q", tc.name, d.Verdict, tc.want)
		}
	}
}

func TestBefore(t *testing.T) {
	actions := []Action{{AtMs: 20000, Kind: Freeze, Node: "n2"}, {AtMs: 30000, Kind: Restart, Node: "n2"}, {AtMs: 40000, Kind: Freeze, Node: "n3"}}
	if _, ok := Before(actions, 19999); ok {
		t.Error("Before(19999) found an action; none was begun yet")
	}
	if a, ok := Before(actions, 31000); !ok || a.Kind != Restart || a.Node != "n2" {
		t.Errorf("Before(31000) = %+v, %v; want the restart of n2 at 30 s", a, ok)
	}
	if a, _ := Before(actions, 40000); a.Node != "n3" {
		t.Errorf("Before(40000) = %+v; want the freeze begun at that instant", a)
	}
}
