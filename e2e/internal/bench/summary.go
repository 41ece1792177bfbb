package bench

import (
	"math"
	"slices"
)

// Row summarises the runs of one system, profile and scenario.
type Row struct {
	Key
	Runs   int `json:"runs"`
	Errors int `json:"errors"`
	// Outage and Takeover over the runs without error; Unrecovered counts
	// runs that ended inside an outage.
	Outage      Stat `json:"outage_ms"`
	Unrecovered int  `json:"unrecovered"`
	Takeover    Stat `json:"takeover_ms"`
	NoTakeover  int  `json:"no_takeover"`
	// DualHolder: longest over runs; DualHolderRuns: runs with any;
	// DualHolderToEnd: runs still with two holders when the probe stopped.
	DualHolder      Stat `json:"dual_holder_ms"`
	DualHolderRuns  int  `json:"dual_holder_runs"`
	DualHolderToEnd int  `json:"dual_holder_to_end"`
	Flaps           Stat `json:"flaps"`
	// From the new leader's log (raftvip): fault → elected, election →
	// committed claim, claim → last VIP bound / announced, election → last
	// VIP bound.
	Elected              Stat `json:"elected_ms"`
	ElectedToClaimed     Stat `json:"elected_to_claimed_ms"`
	ClaimToLastBound     Stat `json:"claim_to_last_bound_ms"`
	ClaimToLastAnnounced Stat `json:"claim_to_last_announced_ms"`
	ElectedToLastBound   Stat `json:"elected_to_last_bound_ms"`
	VIPs                 int  `json:"vips,omitempty"`
	// After the fault ended (Run.Recovery) in RecoveryRuns runs:
	// AfterRecoveryRuns had an outage that began after it, the longest of
	// them AfterRecoveryLongestMs, and one run at most AfterRecoverySwitches
	// changes of the answering node.
	Recovery               string  `json:"recovery,omitempty"`
	RecoveryRuns           int     `json:"recovery_runs,omitempty"`
	AfterRecoveryRuns      int     `json:"after_recovery_runs,omitempty"`
	AfterRecoveryLongestMs float64 `json:"after_recovery_longest_ms,omitempty"`
	AfterRecoverySwitches  int     `json:"after_recovery_switches,omitempty"`
}

// Summarise groups runs by Key, in the order the keys first appear.
func Summarise(runs []Run) []Row {
	var keys []Key
	by := map[Key][]Run{}
	for _, r := range runs {
		k := r.Key()
		if _, ok := by[k]; !ok {
			keys = append(keys, k)
		}
		by[k] = append(by[k], r)
	}
	rows := make([]Row, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, summariseGroup(k, by[k]))
	}
	return rows
}

func summariseGroup(k Key, runs []Run) Row {
	row := Row{Key: k, Runs: len(runs)}
	var f figures
	for _, r := range runs {
		if r.Err != "" {
			row.Errors++
			continue
		}
		f.add(r)
		if r.Unrecovered {
			row.Unrecovered++
		}
		if r.TakeoverMs < 0 {
			row.NoTakeover++
		}
		if r.DualHolderMs > 0 {
			row.DualHolderRuns++
		}
		if r.DualHolderToEnd {
			row.DualHolderToEnd++
		}
		if r.Daemon != nil {
			row.VIPs = max(row.VIPs, r.Daemon.Bound)
		}
		if r.Recovery != "" {
			row.Recovery = r.Recovery
			row.RecoveryRuns++
			if r.AfterRecoveryOutages > 0 {
				row.AfterRecoveryRuns++
			}
			row.AfterRecoveryLongestMs = max(row.AfterRecoveryLongestMs, r.AfterRecoveryLongestMs)
			row.AfterRecoverySwitches = max(row.AfterRecoverySwitches, r.AfterRecoverySwitches)
		}
	}
	row.Outage = Summarize(f.outage)
	row.Takeover = Summarize(f.takeover)
	row.DualHolder = Summarize(f.dual)
	row.Flaps = Summarize(f.flaps)
	row.Elected = Summarize(f.elected)
	row.ElectedToClaimed = Summarize(f.toClaim)
	row.ClaimToLastBound = Summarize(f.bound)
	row.ClaimToLastAnnounced = Summarize(f.announced)
	row.ElectedToLastBound = Summarize(f.electBound)
	return row
}

// figures collects the per-run values of one group.
type figures struct {
	outage, takeover, dual, flaps                  []float64
	elected, toClaim, bound, announced, electBound []float64
}

func (f *figures) add(r Run) {
	f.outage = append(f.outage, r.OutageMs)
	f.takeover = append(f.takeover, orNaN(r.TakeoverMs))
	f.dual = append(f.dual, r.DualHolderMs)
	f.flaps = append(f.flaps, float64(r.Flaps))
	if d := r.Daemon; d != nil {
		f.elected = append(f.elected, orNaN(d.ElectedMs))
		f.toClaim = append(f.toClaim, d.ElectedToClaimed())
		f.bound = append(f.bound, d.ClaimToLastBound())
		f.announced = append(f.announced, d.ClaimToLastAnnounced())
		f.electBound = append(f.electBound, d.ElectedToLastBound())
	}
}

// orNaN maps the JSON "missing" value -1 to NaN, which Summarize skips.
func orNaN(v float64) float64 {
	if v < 0 {
		return math.NaN()
	}
	return v
}

// Pairing names which keepalived profile a raftvip profile is compared with.
type Pairing struct {
	Raftvip    string `json:"raftvip"`
	Keepalived string `json:"keepalived"`
}

// Ratio compares raftvip with keepalived in one scenario, run against run:
// run i of one with run i of the other (they ran back to back). Outage and
// Takeover summarise the per-run ratios raftvip/keepalived, so their Median
// is the median of ratios.
type Ratio struct {
	Scenario string  `json:"scenario"`
	Pairing  Pairing `json:"pairing"`
	Outage   Stat    `json:"outage_ratio"`
	Takeover Stat    `json:"takeover_ratio"`
}

// Ratios pairs the runs of each scenario for every pairing whose two
// profiles both ran it.
func Ratios(runs []Run, pairings []Pairing) []Ratio {
	var scenarios []string
	for _, r := range runs {
		if !slices.Contains(scenarios, r.Scenario) {
			scenarios = append(scenarios, r.Scenario)
		}
	}
	var out []Ratio
	for _, sc := range scenarios {
		for _, p := range pairings {
			a := byIndex(runs, Key{Raftvip, p.Raftvip, sc})
			b := byIndex(runs, Key{Keepalived, p.Keepalived, sc})
			if len(a) == 0 || len(b) == 0 {
				continue
			}
			out = append(out, Ratio{
				Scenario: sc, Pairing: p,
				Outage:   PairedRatios(field(a, func(r Run) float64 { return r.OutageMs }), field(b, func(r Run) float64 { return r.OutageMs })),
				Takeover: PairedRatios(field(a, takeover), field(b, takeover)),
			})
		}
	}
	return out
}

func takeover(r Run) float64 { return orNaN(r.TakeoverMs) }

// byIndex returns the runs of k indexed by run number (nil where missing or
// failed).
func byIndex(runs []Run, k Key) []*Run {
	var out []*Run
	for i := range runs {
		r := &runs[i]
		if r.Key() != k || r.Err != "" {
			continue
		}
		for len(out) <= r.Index {
			out = append(out, nil)
		}
		out[r.Index] = r
	}
	return out
}

func field(runs []*Run, f func(Run) float64) []float64 {
	out := make([]float64, len(runs))
	for i, r := range runs {
		out[i] = math.NaN()
		if r != nil {
			out[i] = f(*r)
		}
	}
	return out
}
