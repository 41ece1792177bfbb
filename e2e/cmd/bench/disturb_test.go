package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/probe"
)

func TestPlan(t *testing.T) {
	s := time.Second
	want := []step{
		{20 * s, bench.Freeze}, {30 * s, bench.Restart}, {40 * s, bench.Freeze},
		{60 * s, bench.Restart}, {60 * s, bench.Freeze}, // together: restart first
		{80 * s, bench.Freeze},
	}
	if diff := cmp.Diff(want, plan(90*s), cmp.AllowUnexported(step{})); diff != "" {
		t.Errorf("plan(90s) (-want +got):\n%s", diff)
	}
	// None at the very end, where nothing would be watched after it.
	if got := plan(60 * s); len(got) != 3 || got[2].at != 40*s {
		t.Errorf("plan(60s) = %v, want freezes at 20 s and 40 s and the restart at 30 s", got)
	}
	restarts, freezes := 0, 0
	for _, st := range plan(10 * time.Minute) {
		if st.kind == bench.Restart {
			restarts++
		} else {
			freezes++
		}
	}
	if restarts != 19 || freezes != 29 {
		t.Errorf("plan(10m): %d restarts, %d freezes; want 19 and 29", restarts, freezes)
	}
}

func TestNextTarget(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		holders []int
		last    int
		want    int
	}{
		{"first pick skips the holder", 3, []int{1}, 0, 2},
		{"round-robin", 3, []int{1}, 2, 3},
		{"wraps around past the holder", 3, []int{1}, 3, 2},
		{"holder moved to the last hit", 3, []int{2}, 2, 3},
		{"holder in the middle", 3, []int{2}, 3, 1},
		{"two holders leave one", 3, []int{1, 2}, 3, 3},
		{"pair: the one backup every time", 2, []int{1}, 2, 2},
		{"no known holder", 3, nil, 0, 0},
		{"all hold", 2, []int{1, 2}, 0, 0},
	} {
		if got := nextTarget(tc.n, tc.holders, tc.last); got != tc.want {
			t.Errorf("%s: nextTarget(%d, %v, %d) = %d, want %d", tc.name, tc.n, tc.holders, tc.last, got, tc.want)
		}
	}
}

func TestKnownHolders(t *testing.T) {
	prev := []int{1}
	for _, tc := range []struct {
		name string
		s    probe.State
		want []int
	}{
		{"a holder", probe.State{Holders: []int{2}}, []int{2}},
		{"two holders", probe.State{Holders: []int{1, 2}}, []int{1, 2}},
		{"no holder: the last one is spared", probe.State{}, prev},
		{"unreadable", probe.State{Holders: []int{3}, Err: "netlink"}, prev},
	} {
		if diff := cmp.Diff(tc.want, knownHolders(tc.s, prev)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestMarkOf(t *testing.T) {
	m := markOf(bench.Action{AtMs: 30012.5, Kind: bench.Restart, Node: "n2"})
	if m.Label != "R2" || m.At != 30012500*time.Microsecond {
		t.Errorf("markOf = %+v, want R2 at 30.0125 s", m)
	}
	if m := markOf(bench.Action{Kind: bench.Freeze, Node: "n3"}); m.Label != "F3" {
		t.Errorf("markOf(freeze n3) = %q, want F3", m.Label)
	}
}

func TestParseDisturb(t *testing.T) {
	c, err := parse([]string{"-disturb", "10m", "-scenarios", ""})
	if err != nil || c.disturb != 10*time.Minute || len(c.scenarios) != 0 {
		t.Errorf("parse(-disturb 10m -scenarios \"\") = %v, %v; want 10m and no scenario", c.disturb, err)
	}
	if c, err := parse(nil); err != nil || c.disturb != 0 {
		t.Errorf("parse() = %v, %v; want the run off by default", c.disturb, err)
	}
	if _, err := parse([]string{"-disturb", "30s"}); err == nil || !strings.Contains(err.Error(), "restart period") {
		t.Errorf("parse(-disturb 30s) = %v, want an error: no restart would fall in it", err)
	}
}
