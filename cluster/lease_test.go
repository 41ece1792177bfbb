package cluster

import (
	"testing"
	"time"
)

func TestQuorumLease(t *testing.T) {
	t0 := time.Now()
	window := 100 * time.Millisecond
	var q quorumLease
	if q.valid(0, t0, window) {
		t.Fatal("a lease never confirmed is valid")
	}
	q.confirm(5, t0)
	tests := []struct {
		name string
		term uint64
		at   time.Duration
		want bool
	}{
		{"just confirmed", 5, 0, true},
		{"within the window", 5, 99 * time.Millisecond, true},
		{"window ran out (e.g. thawed after SIGSTOP)", 5, 100 * time.Millisecond, false},
		{"another term", 6, 10 * time.Millisecond, false},
	}
	for _, tt := range tests {
		if got := q.valid(tt.term, t0.Add(tt.at), window); got != tt.want {
			t.Errorf("%s: valid = %v, want %v", tt.name, got, tt.want)
		}
	}
	// An older confirmation finishing late must not move the lease backwards.
	q.confirm(5, t0.Add(50*time.Millisecond))
	q.confirm(5, t0.Add(10*time.Millisecond))
	if !q.valid(5, t0.Add(140*time.Millisecond), window) {
		t.Error("a late, older confirmation shortened the lease")
	}
	// A new term starts afresh.
	q.confirm(6, t0.Add(200*time.Millisecond))
	if q.valid(5, t0.Add(210*time.Millisecond), window) || !q.valid(6, t0.Add(210*time.Millisecond), window) {
		t.Error("confirmation in a new term did not replace the old one")
	}
}
