// Package bench is the pure part of the failover benchmark (e2e/cmd/bench):
// the figures of each run, their summaries and ratios, the daemon figures read
// from node logs, /proc parsing, and the Markdown, JSON and SVG renderings.
// Nothing here touches the network, the clock or the lab.
package bench

import (
	"math"
	"slices"
)

// Stat summarises one figure over the runs that produced it.
type Stat struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Summarize returns the median, minimum and maximum of xs, ignoring NaNs
// (a figure a run could not produce). With no value, N is 0.
func Summarize(xs []float64) Stat {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return Stat{}
	}
	slices.Sort(v)
	return Stat{N: len(v), Median: median(v), Min: v[0], Max: v[len(v)-1]}
}

// median of sorted, non-empty v: the mean of the two middle values for an
// even count.
func median(v []float64) float64 {
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// PairedRatios divides a[i] by b[i] for each run index i both have, and
// returns the summary of those ratios (its median is the median of per-run
// ratios). Pairs with a NaN, or with b[i] == 0, have no ratio and are skipped.
func PairedRatios(a, b []float64) Stat {
	var r []float64
	for i := range min(len(a), len(b)) {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) || b[i] == 0 {
			continue
		}
		r = append(r, a[i]/b[i])
	}
	return Summarize(r)
}
