package health

import "testing"

func TestStreakObserve(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rise, fall int
		results    string // s = success, f = failure
		want       []verdict
	}{
		{"first success is healthy at once", 3, 3, "s", []verdict{healthy}},
		{"first failure is failing at once", 3, 3, "f", []verdict{failing}},
		{"healthy turns failing after fall", 2, 3, "sfff", []verdict{healthy, healthy, healthy, failing}},
		{"a success resets the failure count", 2, 2, "sfsff", []verdict{healthy, healthy, healthy, healthy, failing}},
		{"failing recovers after rise", 3, 2, "fsss", []verdict{failing, failing, failing, healthy}},
		{"a failure resets the success count", 2, 2, "fsfss", []verdict{failing, failing, failing, failing, healthy}},
		{"rise and fall of 1 follow every result", 1, 1, "sfsf", []verdict{healthy, failing, healthy, failing}},
		{"failing stays failing on failures", 2, 2, "ffff", []verdict{failing, failing, failing, failing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s streak
			for i, r := range tc.results {
				s = s.observe(r == 's', tc.rise, tc.fall)
				if s.verdict != tc.want[i] {
					t.Fatalf("after %q: %v, want %v", tc.results[:i+1], s.verdict, tc.want[i])
				}
			}
		})
	}
}

func TestStreakCounts(t *testing.T) {
	var s streak
	for _, ok := range []bool{true, true, false, false, false} {
		s = s.observe(ok, 2, 2)
	}
	if s.successes != 0 || s.failures != 3 {
		t.Errorf("successes, failures = %d, %d; want 0, 3", s.successes, s.failures)
	}
	s = s.observe(true, 2, 2)
	if s.successes != 1 || s.failures != 0 {
		t.Errorf("successes, failures = %d, %d; want 1, 0", s.successes, s.failures)
	}
}
