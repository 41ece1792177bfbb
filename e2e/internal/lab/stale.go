package lab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// labNS matches the namespace names of a lab: the prefix pickPrefix makes
// ("rv", the creator's PID, "x", two hex digits), then what the lab names
// after it. Nothing else counts as a lab's, whatever it starts with.
var labNS = regexp.MustCompile(`^(rv(\d+)x[0-9a-f]{2})(lan|c|i|n\d+)$`)

// sweepStale removes the namespaces of labs whose creator is gone without a
// Close, and their log directory if it is the default one: a process killed
// with SIGKILL (a go test timeout, a terminal closed mid-bench) can clean
// nothing, and its lab's processes die with it (Pdeathsig), but its
// namespaces stay. A lab counts as stale only when no process has its
// creator's PID and none of its namespaces holds a process, so a live lab,
// even one between steps, is never touched. It returns the prefixes it
// removed.
func sweepStale(ctx context.Context) ([]string, error) {
	all, err := listNetns(ctx)
	if err != nil {
		return nil, err
	}
	byPrefix := map[string][]string{}
	creator := map[string]int{}
	for _, ns := range all {
		m := labNS.FindStringSubmatch(ns)
		if m == nil {
			continue
		}
		byPrefix[m[1]] = append(byPrefix[m[1]], ns)
		creator[m[1]], _ = strconv.Atoi(m[2])
	}
	var removed []string
	var errs []error
	for prefix, nss := range byPrefix {
		if !gone(creator[prefix]) || anyProcessIn(ctx, nss) {
			continue
		}
		for _, ns := range nss {
			errs = append(errs, delNetns(ctx, ns))
		}
		errs = append(errs, removeDefaultDirs(prefix))
		removed = append(removed, prefix)
	}
	slices.Sort(removed)
	return removed, errors.Join(errs...)
}

// gone reports whether no process has the given PID. Anything but a clear
// "no such process" (a PID out of range included) counts as alive.
func gone(pid int) bool {
	if pid <= 0 || pid > math.MaxInt32 {
		return false
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// removeDefaultDirs removes the log directories New makes when Options.Dir
// is empty (os.MkdirTemp("", prefix+"-")); the "-" keeps another prefix's
// out.
func removeDefaultDirs(prefix string) error {
	dirs, err := filepath.Glob(filepath.Join(os.TempDir(), prefix+"-*"))
	if err != nil {
		return fmt.Errorf("lab dirs of %s: %w", prefix, err)
	}
	var errs []error
	for _, d := range dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	return errors.Join(errs...)
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
