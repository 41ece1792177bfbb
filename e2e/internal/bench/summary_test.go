package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func run(system, profile, scenario string, idx int, outage, takeover, dual float64) Run {
	return Run{System: system, Profile: profile, Scenario: scenario, Index: idx,
		OutageMs: outage, TakeoverMs: takeover, DualHolderMs: dual, Flaps: 1}
}

func testRuns() []Run {
	failed := run(Raftvip, "lan", "hostdown", 2, 0, -1, 0)
	failed.Err = "lab: no"
	return []Run{
		run(Raftvip, "lan", "hostdown", 0, 300, 300, 0),
		run(Keepalived, "default", "hostdown", 0, 3000, 3000, 0),
		run(Raftvip, "lan", "hostdown", 1, 500, -1, 20),
		run(Keepalived, "default", "hostdown", 1, 2500, 2500, 0),
		failed,
		run(Keepalived, "default", "hostdown", 2, 2000, 2000, 0),
	}
}

func TestSummarise(t *testing.T) {
	rows := Summarise(testRuns())
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2", len(rows))
	}
	r := rows[0]
	want := Row{
		Key:  Key{Raftvip, "lan", "hostdown"},
		Runs: 3, Errors: 1,
		Outage:     Stat{N: 2, Median: 400, Min: 300, Max: 500},
		Takeover:   Stat{N: 1, Median: 300, Min: 300, Max: 300},
		NoTakeover: 1, DualHolder: Stat{N: 2, Median: 10, Min: 0, Max: 20}, DualHolderRuns: 1,
		Flaps: Stat{N: 2, Median: 1, Min: 1, Max: 1},
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("raftvip row (-want +got):\n%s", diff)
	}
}

func TestRatios(t *testing.T) {
	got := Ratios(testRuns(), []Pairing{{"lan", "default"}, {"fast", "tuned"}})
	// Run 0: 300/3000, run 1: 500/2500; run 2 failed for raftvip.
	want := []Ratio{{Scenario: "hostdown", Pairing: Pairing{"lan", "default"},
		Outage:   Stat{N: 2, Median: 0.15, Min: 0.1, Max: 0.2},
		Takeover: Stat{N: 1, Median: 0.1, Min: 0.1, Max: 0.1}}}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Ratios (-want +got):\n%s", diff)
	}
}

func TestEvaluate(t *testing.T) {
	rows := Summarise(append(testRuns(),
		run(Raftvip, "lan", "partition", 0, 300, 400, 0),
		run(Raftvip, "fast", "partition", 0, 300, 400, 10)))
	res := []Resource{{System: Raftvip, Profile: "lan", CPUPercent: 0.5, RSSMiB: 14}, {System: Raftvip, Profile: "lan", CPUPercent: 4, RSSMiB: 15}}
	met := map[string]string{}
	for _, v := range Evaluate(rows, res, nil) {
		met[v.Target] = v.Met
	}
	for target, want := range map[string]string{
		"host loss, lan profile: outage ≤ 500 ms":                 "yes",
		"host loss, fast profile: outage ≤ 250 ms":                notMeasured,
		"partition, lan profile: dual holder 0 ms in every run":   "yes",
		"partition, fast profile: dual holder 0 ms in every run":  "no",
		"idle node, lan profile: < 1% of a core and < 40 MiB RSS": "no",
		"stability, lan profile, CPU hog: no leadership change":   notMeasured,
	} {
		if met[target] != want {
			t.Errorf("%q: met %q, want %q", target, met[target], want)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	runs := testRuns()
	res := Results{Runs: runs, Summary: Summarise(runs), Ratios: Ratios(runs, []Pairing{{"lan", "default"}}),
		Notes: []string{"quick run"}}
	markdownHas(t, res,
		"| hostdown | raftvip | lan | 3 | 400 [300..500] | 300 | 20 (1) | 1 | 1 failed; 1 without takeover |",
		"| hostdown | lan / default | 0.15 [0.10..0.20] (2) | 0.10 [0.10..0.10] (1) |",
		"- quick run",
	)
}

// markdownHas checks that res's results.md has every line of wants.
func markdownHas(t *testing.T, res Results, wants ...string) {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, res); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range wants {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// A run with many VIPs gets its own row with the time to all of them bound
// and announced; one whose log misses some shows no such time; a one-VIP run
// has no row.
func TestWriteMarkdownAllVIPs(t *testing.T) {
	whole := run(Raftvip, "lan-5n", "hostdown-1024vips", 0, 400, 400, 0)
	whole.VIPs, whole.Taker = 1024, "n2"
	whole.Daemon = &DaemonTimes{ClaimedMs: 300, LastBoundMs: 340.5, LastAnnouncedMs: 420, Bound: 1024, Announced: 1024}
	short := whole
	short.Index = 1
	short.Daemon = &DaemonTimes{ClaimedMs: 300, LastBoundMs: 340, LastAnnouncedMs: 390, Bound: 1024, Announced: 1000}
	single := run(Raftvip, "lan", "hostdown", 0, 300, 300, 0)
	single.VIPs = 1
	single.Daemon = &DaemonTimes{ClaimedMs: 300, LastBoundMs: 301, LastAnnouncedMs: 302, Bound: 1, Announced: 1}
	runs := []Run{whole, short, single}
	var buf bytes.Buffer
	if err := WriteMarkdown(&buf, Results{Runs: runs, Summary: Summarise(runs)}); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"| hostdown-1024vips | lan-5n | 0 | n2 | 1024 | 1024 | 1024 | 40.5 | 120 |",
		"| hostdown-1024vips | lan-5n | 1 | n2 | 1024 | 1024 | 1000 | 40 | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| hostdown | lan | 0 |") {
		t.Errorf("a one-VIP run has a row in the all-VIPs table:\n%s", md)
	}
}

func TestDisturbanceTarget(t *testing.T) {
	if v := DisturbanceTarget(nil); v.Met != notMeasured {
		t.Errorf("no run: met %q, want %q", v.Met, notMeasured)
	}
	ds := []Disturbance{
		{System: Keepalived, Profile: "default", Verdict: "pass"},
		{System: Raftvip, Profile: "lan", Seconds: 600, Restarts: 19, Freezes: 29, HolderSamples: 1,
			Outages: []Outage{{AtMs: 61000, Ms: 40}}, LongestMs: 40},
	}
	ds[1].Judge()
	v := DisturbanceTarget(ds)
	if v.Met != "no" || v.Measured != "0 holder changes, 1 outage (longest 40 ms) in 600 s, 19 restarts, 29 freezes" {
		t.Errorf("one outage: %+v, want met no", v)
	}
	ds[1].Outages, ds[1].LongestMs = nil, 0
	ds[1].Judge()
	if v := DisturbanceTarget(ds); v.Met != "yes" {
		t.Errorf("clean run: %+v, want met yes", v)
	}
}

func TestWriteMarkdownDisturbance(t *testing.T) {
	d := Disturbance{System: Raftvip, Profile: "lan", Seconds: 90, Hogs: 2, Restarts: 2, Freezes: 4,
		Actions:       []Action{{AtMs: 30000, Kind: Restart, Node: "n2"}, {AtMs: 40000, Kind: Freeze, Node: "n3"}},
		Moves:         []Move{{AtMs: 30500, From: []int{1}, To: []int{1, 3}}},
		Outages:       []Outage{{AtMs: 41200, Ms: 30.2, HeldBy: []int{1}, FailedDials: 2}},
		OutageTotalMs: 30.2, LongestMs: 30.2, HolderSamples: 9000, Probes: 9000, Answered: 8997}
	d.Judge()
	markdownHas(t, Results{Disturbance: []Disturbance{d}},
		"## Disturbance run",
		"| raftvip | lan | 90 s | 2 | 2 | 4 | 1 | 1 | 30.2 | 30.2 | 99.97 % of 9000 | fail (1 holder change, 1 outage) |  |",
		"- raftvip lan: holders [1] → [1 3] at +30.50 s (0.50 s after the restart of n2)",
		"- raftvip lan: outage of 30.2 ms at +41.20 s (1.20 s after the freeze of n3), 2 failed dials, VIP held by n1 throughout",
	)
}

// recoveredRun is a run whose fault ended: outages after the recovery, the
// longest of them, and changes of the answering node.
func recoveredRun(system, profile, scenario string, idx, outages int, longest float64, switches int) Run {
	r := run(system, profile, scenario, idx, 300, 300, 0)
	r.Recovery, r.RecoveryMs = "host up", 1200
	r.AfterRecoveryOutages, r.AfterRecoveryLongestMs, r.AfterRecoverySwitches = outages, longest, switches
	return r
}

// One outage after the recovery in any run of a profile fails its recovery
// target; keepalived's moves back do not count against raftvip, and the
// table shows them.
func TestRecoveryTarget(t *testing.T) {
	runs := []Run{
		recoveredRun(Raftvip, "lan", "hostdown", 0, 0, 0, 0),
		recoveredRun(Raftvip, "lan", "hostdown", 1, 0, 0, 0),
		recoveredRun(Raftvip, "fast", "hostdown", 0, 0, 0, 0),
		recoveredRun(Raftvip, "fast", "sigterm", 0, 1, 35, 1),
		recoveredRun(Keepalived, "default", "hostdown", 0, 1, 20, 1),
		run(Raftvip, "lan", "sigkill", 0, 0, 300, 700), // no recovery: not judged
	}
	rows := Summarise(runs)
	got := map[string]Verdict{}
	for _, v := range Evaluate(rows, nil, nil) {
		got[v.Target] = v
	}
	lan := got["recovery, lan profile: no outage once the old holder is back, in every run"]
	if lan.Met != "yes" || !strings.HasPrefix(lan.Measured, "0 of 2 runs") {
		t.Errorf("lan verdict %+v, want met on 0 of 2 runs", lan)
	}
	fast := got["recovery, fast profile: no outage once the old holder is back, in every run"]
	if fast.Met != "no" || !strings.HasPrefix(fast.Measured, "1 of 2 runs") || !strings.Contains(fast.Measured, "longest 35 ms") {
		t.Errorf("fast verdict %+v, want not met on 1 of 2 runs, longest 35 ms", fast)
	}
	markdownHas(t, Results{Runs: runs, Summary: rows},
		"| hostdown | raftvip | lan | host up | 2 | 0 | 0 | 0 |",
		"| sigterm | raftvip | fast | host up | 1 | 1 | 35 | 1 |",
		"| hostdown | keepalived | default | host up | 1 | 1 | 20 | 1 |")
}
