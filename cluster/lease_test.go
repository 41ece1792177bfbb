package cluster

import (
	"testing"
	"time"
)

func TestQuorumLease(t *testing.T) {
	t.Parallel()
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
	// A verify of an older term that finishes late must not take the new
	// term's lease away (keepLease of the previous term still running).
	q.confirm(5, t0.Add(205*time.Millisecond))
	if !q.valid(6, t0.Add(210*time.Millisecond), window) {
		t.Error("a late confirmation of an older term invalidated the current one")
	}
}

func TestQuorumLeaseResign(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	window := 100 * time.Millisecond
	var q quorumLease
	q.confirm(5, t0)
	q.resign(5)
	q.confirm(5, t0.Add(time.Millisecond))
	if q.valid(5, t0.Add(2*time.Millisecond), window) {
		t.Fatal("valid after resign: a confirmation took the resignation back")
	}
	q.unresign(4)
	if q.valid(5, t0.Add(2*time.Millisecond), window) {
		t.Fatal("unresign of another term took the resignation back")
	}
	q.unresign(5)
	if !q.valid(5, t0.Add(2*time.Millisecond), window) {
		t.Fatal("not valid after unresign (the handover failed)")
	}
	// Resigning a term not confirmed yet blocks its first confirmation too,
	// and the next term starts unresigned.
	q.resign(6)
	q.confirm(6, t0.Add(3*time.Millisecond))
	if q.valid(6, t0.Add(4*time.Millisecond), window) {
		t.Fatal("resigned term 6 is valid")
	}
	q.confirm(7, t0.Add(5*time.Millisecond))
	if !q.valid(7, t0.Add(6*time.Millisecond), window) {
		t.Fatal("a new term is still resigned")
	}
}
