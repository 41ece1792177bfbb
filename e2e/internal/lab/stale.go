package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ownPrefix matches the prefixes pickPrefix makes: "rv", the creator's PID
// modulo 100000, "x", three hex digits.
var ownPrefix = regexp.MustCompile(`^(rv(\d+)x[0-9a-f]{3})`)

// sweepStale removes the namespaces of labs whose creator is gone without a
// Close: a process killed with SIGKILL (a go test timeout, a session killed
// mid-bench) can clean nothing, and its lab's processes die with it
// (Pdeathsig), but its namespaces stay. A lab counts as stale only when no
// process has its creator's PID (as the prefix records it) and none of its
// namespaces holds a process, so a live lab, even one between steps, is
// never touched. It returns the prefixes it removed.
func sweepStale(ctx context.Context) ([]string, error) {
	all, err := listNetns(ctx)
	if err != nil {
		return nil, err
	}
	byPrefix := map[string][]string{}
	creator := map[string]int{}
	for _, ns := range all {
		m := ownPrefix.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		byPrefix[m[1]] = append(byPrefix[m[1]], ns)
		creator[m[1]], _ = strconv.Atoi(m[2])
	}
	if len(byPrefix) == 0 {
		return nil, nil
	}
	alive, err := pidsModulo()
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for prefix, nss := range byPrefix {
		if alive[creator[prefix]] || anyProcessIn(ctx, nss) {
			continue
		}
		for _, ns := range nss {
			errs = append(errs, delNetns(ctx, ns))
		}
		removed = append(removed, prefix)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// pidsModulo is the set of running PIDs modulo 100000, as prefixes record them.
func pidsModulo() (map[int]bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	out := map[int]bool{}
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out[pid%100000] = true
		}
	}
	return out, nil
}

// anyProcessIn reports whether a process runs in one of nss; when that cannot
// be told, it says yes, so that nothing is removed on a guess.
func anyProcessIn(ctx context.Context, nss []string) bool {
	for _, ns := range nss {
		out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			return true
		}
	}
	return false
}
