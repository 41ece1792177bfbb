package bench

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		in   []float64
		want Stat
	}{
		{"empty", nil, Stat{}},
		{"only NaN", []float64{nan}, Stat{}},
		{"odd", []float64{30, 10, 20}, Stat{N: 3, Median: 20, Min: 10, Max: 30}},
		{"even", []float64{40, 10, 20, 30}, Stat{N: 4, Median: 25, Min: 10, Max: 40}},
		{"NaN skipped", []float64{nan, 5, nan, 7}, Stat{N: 2, Median: 6, Min: 5, Max: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Summarize(tt.in)); diff != "" {
				t.Errorf("Summarize(%v) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestPairedRatios(t *testing.T) {
	nan := math.NaN()
	// Pairs: 100/200, 300/0 (no ratio), NaN/100 (none), 50/100; b is longer.
	got := PairedRatios([]float64{100, 300, nan, 50}, []float64{200, 0, 100, 100, 999})
	want := Stat{N: 2, Median: 0.5, Min: 0.5, Max: 0.5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PairedRatios (-want +got):\n%s", diff)
	}
	// The median of ratios, not the ratio of medians: 1/10, 10/1, 2/1.
	got = PairedRatios([]float64{1, 10, 2}, []float64{10, 1, 1})
	if got.Median != 2 {
		t.Errorf("median of ratios = %v, want 2", got.Median)
	}
}
