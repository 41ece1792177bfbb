package bench

import (
	"fmt"
	"strings"
)

// Verdict says whether one target of docs/benchmarks.md ("Targets") was met.
type Verdict struct {
	Target   string `json:"target"`
	Measured string `json:"measured"`
	// Met is "yes", "no", or "not measured".
	Met string `json:"met"`
}

const notMeasured = "not measured"

// Evaluate checks raftvip's figures against the targets of docs/benchmarks.md.
// Outage targets are judged on the median; the measured text gives the maximum
// too. "Every run" targets are judged on the maximum.
func Evaluate(rows []Row, res []Resource, stab []Stability) []Verdict {
	find := func(profile, scenario string) (Row, bool) {
		for _, r := range rows {
			if r.System == Raftvip && r.Profile == profile && r.Scenario == scenario {
				return r, r.Runs > r.Errors
			}
		}
		return Row{}, false
	}
	var out []Verdict
	// check judges the row of profile and scenario; judge returns what was
	// measured and whether the target was met.
	check := func(profile, scenario, target string, judge func(Row) (string, bool)) {
		r, ok := find(profile, scenario)
		if !ok {
			out = append(out, Verdict{Target: target, Met: notMeasured})
			return
		}
		measured, met := judge(r)
		out = append(out, Verdict{Target: target, Measured: measured, Met: yes(met)})
	}
	outage := func(limit float64) func(Row) (string, bool) {
		return func(r Row) (string, bool) {
			return fmt.Sprintf("median %s ms, max %s ms (%d runs)", num(r.Outage.Median), num(r.Outage.Max), r.Outage.N),
				r.Outage.Median <= limit && r.Unrecovered == 0
		}
	}
	dual := func(limit float64) func(Row) (string, bool) {
		return func(r Row) (string, bool) {
			return fmt.Sprintf("longest %s ms, in %d of %d runs", num(r.DualHolder.Max), r.DualHolderRuns, r.DualHolder.N),
				r.DualHolder.Max <= limit && r.DualHolderToEnd == 0 && r.Errors == 0
		}
	}
	announced := func(r Row) (string, bool) {
		s := r.ClaimToLastAnnounced
		return fmt.Sprintf("claim → last announced: median %s ms, max %s ms (%d runs)", num(s.Median), num(s.Max), s.N),
			s.N > 0 && s.Max <= 100 && r.VIPs == 256
	}
	check("lan", "hostdown", "host loss, lan profile: outage ≤ 500 ms", outage(500))
	check("fast", "hostdown", "host loss, fast profile: outage ≤ 250 ms", outage(250))
	for _, p := range []string{"lan", "fast"} {
		check(p, "sigterm", "graceful SIGTERM, "+p+" profile: outage ≤ 30 ms", outage(30))
	}
	for _, p := range []string{"lan", "fast"} {
		check(p, "partition", "partition, "+p+" profile: dual holder 0 ms in every run", dual(0))
	}
	for _, sc := range []string{"sigkill", "sigstop"} {
		for _, p := range []string{"lan", "fast"} {
			check(p, sc, sc+", "+p+" profile: dual holder < 1 s (kernel lease) in every run", dual(999))
		}
	}
	for _, p := range []string{"lan", "fast"} {
		check(p, "move256", "256 VIPs, "+p+" profile: all bound and announced ≤ 100 ms after the claim commits", announced)
	}
	for _, p := range []string{"lan", "fast"} {
		out = append(out, recovered(rows, p))
	}
	out = append(out, idle(res), stable(stab))
	return out
}

// recovered judges raftvip's profile p on every run whose fault ended: the
// old holder coming back must cost the client nothing.
func recovered(rows []Row, p string) Verdict {
	v := Verdict{Target: "recovery, " + p + " profile: no outage once the old holder is back, in every run", Met: notMeasured}
	runs, bad, longest, switches := 0, 0, 0.0, 0
	var scenarios []string
	for _, r := range rows {
		if r.System != Raftvip || r.Profile != p || r.RecoveryRuns == 0 {
			continue
		}
		scenarios = append(scenarios, r.Scenario)
		runs += r.RecoveryRuns
		bad += r.AfterRecoveryRuns
		longest = max(longest, r.AfterRecoveryLongestMs)
		switches = max(switches, r.AfterRecoverySwitches)
	}
	if runs > 0 {
		v.Measured = fmt.Sprintf("%d of %d runs with an outage after the recovery (longest %s ms), answering node changes at most %d (%s)",
			bad, runs, num(longest), switches, strings.Join(scenarios, ", "))
		v.Met = yes(bad == 0)
	}
	return v
}

func idle(res []Resource) Verdict {
	v := Verdict{Target: "idle node, lan profile: < 1% of a core and < 40 MiB RSS", Met: notMeasured}
	worstCPU, worstRSS, n := 0.0, 0.0, 0
	for _, r := range res {
		if r.System != Raftvip || r.Profile != "lan" || r.Err != "" {
			continue
		}
		n++
		worstCPU, worstRSS = max(worstCPU, r.CPUPercent), max(worstRSS, r.RSSMiB)
	}
	if n > 0 {
		v.Measured = fmt.Sprintf("worst of %d nodes: %.2f%% CPU, %.1f MiB", n, worstCPU, worstRSS)
		v.Met = yes(worstCPU < 1 && worstRSS < 40)
	}
	return v
}

func stable(stab []Stability) Verdict {
	v := Verdict{Target: "stability, lan profile, CPU hog: no leadership change", Met: notMeasured}
	for _, s := range stab {
		if s.System == Raftvip && s.Profile == "lan" && s.Err == "" {
			v.Measured = fmt.Sprintf("%d leader changes, %d term changes, %d VIP moves in %.0f s", s.LeaderChanges, s.TermChanges, s.VIPMoves, s.Seconds)
			v.Met = yes(s.LeaderChanges == 0 && s.TermChanges == 0)
		}
	}
	return v
}

// DisturbanceTarget judges the disturbance run of raftvip's lan profile:
// no holder change and no client outage.
func DisturbanceTarget(ds []Disturbance) Verdict {
	v := Verdict{Target: "disturbance run, lan profile: no holder change, no client outage", Met: notMeasured}
	for _, d := range ds {
		if d.System == Raftvip && d.Profile == "lan" && d.Err == "" {
			v.Measured = fmt.Sprintf("%s, %s (longest %s ms) in %.0f s, %d restarts, %d freezes",
				plural(len(d.Moves), "holder change"), plural(len(d.Outages), "outage"), num(d.LongestMs), d.Seconds, d.Restarts, d.Freezes)
			v.Met = yes(d.Verdict == "pass")
		}
	}
	return v
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// num formats a millisecond figure: whole numbers without decimals.
func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.1f", v)
}
