package bench

import (
	"slices"
	"testing"
)

func TestCPUTicks(t *testing.T) {
	// The command name holds a space and a ')'; utime 1200, stime 34.
	stat := "3871 (rv (x) agent) S 1 3871 3871 0 -1 4194560 2510 0 0 0 1200 34 0 0 20 0 8 0 1234 0 0"
	got, err := CPUTicks(stat)
	if err != nil || got != 1234 {
		t.Errorf("CPUTicks = %d, %v; want 1234", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1 0"} {
		if _, err := CPUTicks(bad); err == nil {
			t.Errorf("CPUTicks(%q): no error", bad)
		}
	}
}

func TestRSSKiB(t *testing.T) {
	got, err := RSSKiB("Name:\traftvip\nVmPeak:\t  1 kB\nVmRSS:\t   15104 kB\nThreads:\t8\n")
	if err != nil || got != 15104 {
		t.Errorf("RSSKiB = %d, %v; want 15104", got, err)
	}
	if _, err := RSSKiB("Name:\tkthreadd\n"); err == nil {
		t.Error("RSSKiB without VmRSS: no error")
	}
}

func TestChildren(t *testing.T) {
	got, err := Children("4012 4013 \n")
	if err != nil || !slices.Equal(got, []int{4012, 4013}) {
		t.Errorf("Children = %v, %v", got, err)
	}
	if got, err := Children(""); err != nil || len(got) != 0 {
		t.Errorf("Children(\"\") = %v, %v", got, err)
	}
}

func TestVoluntarySwitches(t *testing.T) {
	got, err := VoluntarySwitches("Name:\traftvip\nvoluntary_ctxt_switches:\t4711\nnonvoluntary_ctxt_switches:\t12\n")
	if err != nil || got != 4711 {
		t.Errorf("VoluntarySwitches = %d, %v; want 4711", got, err)
	}
	if _, err := VoluntarySwitches("Name:\tkthreadd\nnonvoluntary_ctxt_switches:\t12\n"); err == nil {
		t.Error("VoluntarySwitches without the line: no error")
	}
}
