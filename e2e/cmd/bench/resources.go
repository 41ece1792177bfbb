package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// resources measures the idle footprint of every node of s over cfg.idle.
func (b *benchRun) resources(ctx context.Context, s spec) []bench.Resource {
	b.say("\n== idle footprint: %s over %v", s.title(), b.cfg.idle)
	fail := func(err error) []bench.Resource {
		b.say("  error: %v", err)
		return []bench.Resource{{System: s.kind, Profile: s.profile, Err: err.Error()}}
	}
	l, err := b.labFor(ctx, s, filepath.Join(b.cfg.out, "logs", s.kind+"-"+s.profile, "idle"))
	if err != nil {
		return fail(err)
	}
	defer closeLab(l)
	sys, err := s.newSys(l)
	if err != nil {
		return fail(err)
	}
	holder, err := sys.start(ctx, vipList(1))
	if err != nil {
		return fail(err)
	}
	time.Sleep(2 * time.Second) // let the start-up work (joins, snapshots) pass
	var out []bench.Resource
	meters := map[int]*meter{}
	for i := 1; i <= l.Nodes(); i++ {
		meters[i] = newMeter(sys.pids(i))
	}
	start := time.Now()
	for time.Since(start) < b.cfg.idle {
		time.Sleep(min(time.Second, b.cfg.idle-time.Since(start)))
		for _, m := range meters {
			m.sample()
		}
	}
	secs := time.Since(start).Seconds()
	for i := 1; i <= l.Nodes(); i++ {
		r := meters[i].result(secs, clockTicks(ctx))
		r.System, r.Profile, r.Node, r.Role = s.kind, s.profile, lab.NodeName(i), role(s.kind, i == holder, i == s.witness)
		out = append(out, r)
		b.say("  %s %-8s CPU %.2f%% of a core, %.0f wake-ups/s, RSS %.1f MiB %s", r.Node, r.Role, r.CPUPercent, r.Wakeups, r.RSSMiB, r.Err)
	}
	return out
}

// role names node i's part in the idle cluster: master or backup for
// keepalived, leader, follower or witness for raftvip.
func role(kind string, holder, witness bool) string {
	switch {
	case witness:
		return "witness"
	case kind == bench.Keepalived && holder:
		return "master"
	case kind == bench.Keepalived:
		return "backup"
	case holder:
		return "leader"
	}
	return "follower"
}

// meter follows the CPU ticks, wake-ups and RSS of a daemon's processes.
type meter struct {
	pids          []int
	ticks0, ticks uint64
	wakes0, wakes uint64
	rssMax        uint64
	err           error
}

func newMeter(pids []int) *meter {
	m := &meter{pids: pids}
	if len(pids) == 0 {
		m.err = fmt.Errorf("no process")
	}
	m.sample()
	m.ticks0, m.wakes0 = m.ticks, m.wakes
	return m
}

// sample reads every process, summing ticks, wake-ups and RSS.
func (m *meter) sample() {
	if m.err != nil {
		return
	}
	var ticks, wakes, rss uint64
	for _, pid := range m.pids {
		t, r, err := procStat(pid)
		if err == nil {
			var w uint64
			w, err = procWakeups(pid)
			wakes += w
		}
		if err != nil {
			m.err = err
			return
		}
		ticks, rss = ticks+t, rss+r
	}
	m.ticks, m.wakes, m.rssMax = ticks, wakes, max(m.rssMax, rss)
}

func (m *meter) result(secs float64, hz float64) bench.Resource {
	r := bench.Resource{Seconds: secs}
	if m.err != nil {
		r.Err = m.err.Error()
		return r
	}
	r.CPUPercent = float64(m.ticks-m.ticks0) / hz / secs * 100
	// A thread that exits takes its count along; the Go runtime keeps its
	// threads, so the sum only grows.
	r.Wakeups = float64(m.wakes-min(m.wakes0, m.wakes)) / secs
	r.RSSMiB = float64(m.rssMax) / 1024
	return r
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// common Linux build; getconf asks the C library).
func clockTicks(ctx context.Context) float64 {
	out, err := exec.CommandContext(ctx, "getconf", "CLK_TCK").Output()
	if err == nil {
		if hz, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64); err == nil && hz > 0 {
			return hz
		}
	}
	return 100
}

// procStat reads the CPU ticks and RSS of pid.
func procStat(pid int) (ticks, rssKiB uint64, err error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return 0, 0, err
	}
	if ticks, err = bench.CPUTicks(string(stat)); err != nil {
		return 0, 0, err
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return 0, 0, err
	}
	rssKiB, err = bench.RSSKiB(string(status))
	return ticks, rssKiB, err
}

// procWakeups sums the voluntary context switches of pid's threads.
func procWakeups(pid int) (uint64, error) {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, t := range tasks {
		status, err := os.ReadFile(filepath.Join(dir, t.Name(), "status"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // the thread exited since ReadDir
		}
		if err != nil {
			return 0, err
		}
		n, err := bench.VoluntarySwitches(string(status))
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}
