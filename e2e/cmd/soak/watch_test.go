package main

import (
	"slices"
	"testing"
)

// TestConfirmedHolders: a VIP that moved from n1 to n2 between their reads
// is not a dual holder; one that n1 still holds after n2's read is.
func TestConfirmedHolders(t *testing.T) {
	const vip = "192.0.2.100"
	for _, tc := range []struct {
		name  string
		reads [][]string // in order of the reads: n1, n2, n3, then n1, n2 again
		want  [][]string
	}{
		{"one holder: read once", [][]string{{vip}, nil, nil}, [][]string{{vip}, nil, nil}},
		{"moved between the reads", [][]string{{vip}, {vip}, nil, nil, {vip}}, [][]string{nil, {vip}, nil}},
		{"held twice", [][]string{{vip}, {vip}, nil, {vip}, {vip}}, [][]string{{vip}, {vip}, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := 0
			got, err := confirmedHolders(3, func(int) ([]string, error) { k++; return tc.reads[k-1], nil })
			if err != nil || k != len(tc.reads) || !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("got %v after %d reads (%v), want %v after %d", got, k, err, tc.want, len(tc.reads))
			}
		})
	}
}
