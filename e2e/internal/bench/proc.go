package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// CPUTicks returns utime+stime, in clock ticks, from the text of
// /proc/PID/stat. The command name (field 2) may hold spaces and
// parentheses, so the fields are counted after its last ')'.
func CPUTicks(stat string) (uint64, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("proc stat %.40q: no command name", stat)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15), so utime is the
	// 12th field of the rest.
	f := strings.Fields(stat[end+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the name, want 13 or more", len(f))
	}
	ut, err := strconv.ParseUint(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat utime: %w", err)
	}
	st, err := strconv.ParseUint(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("proc stat stime: %w", err)
	}
	return ut + st, nil
}

// VoluntarySwitches returns voluntary_ctxt_switches from the text of
// /proc/PID/task/TID/status: how often the thread blocked and was woken.
func VoluntarySwitches(status string) (uint64, error) {
	for line := range strings.Lines(status) {
		if rest, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
			return strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
		}
	}
	return 0, fmt.Errorf("proc status: no voluntary_ctxt_switches line")
}

// RSSKiB returns VmRSS, in KiB, from the text of /proc/PID/status.
func RSSKiB(status string) (uint64, error) {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("proc status VmRSS %q: want \"<n> kB\"", strings.TrimSpace(rest))
		}
		return strconv.ParseUint(f[0], 10, 64)
	}
	return 0, fmt.Errorf("proc status: no VmRSS line")
}

// Children parses /proc/PID/task/TID/children: space-separated PIDs.
func Children(text string) ([]int, error) {
	var out []int
	for _, f := range strings.Fields(text) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("children %q: %w", f, err)
		}
		out = append(out, pid)
	}
	return out, nil
}
