package main

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// keepalivedVersion checks that keepalived is installed, and returns its
// version line.
func keepalivedVersion(ctx context.Context) (string, error) {
	path, err := exec.LookPath("keepalived")
	if err != nil {
		return "", fmt.Errorf("keepalived is not installed")
	}
	out, _ := exec.CommandContext(ctx, path, "--version").CombinedOutput()
	line, _, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(line, "Keepalived") {
		return "", fmt.Errorf("%s --version: %q", path, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(line), nil
}

// keepalivedPriority gives n1 the VIP first and n2 the takeover: n2's
// priority 100 (the default) makes its skew time (256-100)/256 of an advert
// interval, as docs/benchmarks.md ("Method") describes. n3 has 50, and each
// further node one less than the node before it, so the order of the nodes
// is the order of succession (at least 14 for the lab's last node).
func keepalivedPriority(i int) int {
	switch i {
	case 1:
		return 150
	case 2:
		return 100
	}
	return 53 - i
}

// priorityList is the priorities of nodes 1 to n, for the results' note.
func priorityList(n int) string {
	ps := make([]string, n)
	for i := range n {
		ps[i] = strconv.Itoa(keepalivedPriority(i + 1))
	}
	return strings.Join(ps, ", ")
}

// keepalivedSpec is keepalived with a VRRP profile in a cluster of shape sh.
func keepalivedSpec(profile string, sh shape) spec {
	wait := 3 * time.Second
	if profile == "default" {
		wait = 8 * time.Second // master down interval 3.6 s, with room
	}
	opts, _ := sh.layout(bench.Keepalived)
	return spec{kind: bench.Keepalived, profile: sh.label(profile), lab: opts, maxWait: wait,
		newSys: func(l *lab.Lab) (system, error) {
			return &keepalivedSys{l: l, profile: profile, topo: sh.topo}, nil
		}}
}

// keepalivedSys runs one keepalived per node namespace, each with its own
// config and PID files in the lab dir, logging to the node log.
type keepalivedSys struct {
	l       *lab.Lab
	profile string // default or tuned
	topo    string
	vips    []netip.Prefix
	procs   map[int]*lab.Proc
}

func (s *keepalivedSys) start(ctx context.Context, vips []netip.Prefix) (int, error) {
	s.procs, s.vips = map[int]*lab.Proc{}, vips
	for i := 1; i <= s.l.Nodes(); i++ {
		if err := s.startNode(ctx, i); err != nil {
			return 0, err
		}
	}
	return 1, waitHeld(ctx, s.l, s.vips, 1)
}

// startNode writes node i's config and starts its keepalived.
func (s *keepalivedSys) startNode(ctx context.Context, i int) error {
	conf := filepath.Join(s.l.Dir(), fmt.Sprintf("keepalived-n%d.conf", i))
	if err := os.WriteFile(conf, []byte(keepalivedConf(i, s.profile, s.topo, s.vips)), 0o644); err != nil {
		return err
	}
	base := filepath.Join(s.l.Dir(), fmt.Sprintf("keepalived-n%d", i))
	argv := []string{"keepalived", "-n", "-l", "-D", "-G", "-P", "-f", conf,
		"-p", base + ".pid", "-r", base + "-vrrp.pid"}
	p, err := s.l.Start(ctx, i, argv, nil)
	if err != nil {
		return err
	}
	s.procs[i] = p
	return nil
}

// restart waits for node i's keepalived to exit and starts it again with
// the same config, as systemd would after `systemctl restart keepalived`.
func (s *keepalivedSys) restart(ctx context.Context, i int) error {
	if err := exited(ctx, s.procs[i], i); err != nil {
		return err
	}
	return s.startNode(ctx, i)
}

// keepalivedState is node i's initial VRRP state. Three nodes all start as
// BACKUP and let the priorities elect n1; a pair is set up the way
// keepalived's own examples set up two hosts, n1 MASTER and n2 BACKUP (the
// priorities still decide, so only the start differs).
func keepalivedState(i int, topo string) string {
	if topo == pair && i == 1 {
		return "MASTER"
	}
	return "BACKUP"
}

// keepalivedConf is node i's configuration in topology topo: one VRRP
// instance on eth0, multicast adverts, the first VIP in the advert and the
// rest (other families, more than VRRP's 20-address habit) as excluded
// addresses that follow the instance.
func keepalivedConf(i int, profile, topo string, vips []netip.Prefix) string {
	version, advert := 2, "1"
	if profile == "tuned" {
		version, advert = 3, "0.1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n\trouter_id n%d\n\tvrrp_version %d\n}\n\n", i, version)
	fmt.Fprintf(&b, "vrrp_instance VI_1 {\n\tstate %s\n\tinterface %s\n\tvirtual_router_id 51\n", keepalivedState(i, topo), lab.Link)
	fmt.Fprintf(&b, "\tpriority %d\n\tadvert_int %s\n", keepalivedPriority(i), advert)
	fmt.Fprintf(&b, "\tvirtual_ipaddress {\n\t\t%s dev %s\n\t}\n", vips[0], lab.Link)
	if len(vips) > 1 {
		b.WriteString("\tvirtual_ipaddress_excluded {\n")
		for _, v := range vips[1:] {
			fmt.Fprintf(&b, "\t\t%s dev %s\n", v, lab.Link)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// pids lists the VRRP child first, then the parent: a SIGKILL must reach
// the child before the parent's death could make it shut down cleanly.
func (s *keepalivedSys) pids(i int) []int {
	p := s.procs[i]
	if p == nil || !p.Running() {
		return nil
	}
	pid := p.PID()
	text, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	kids, _ := bench.Children(string(text))
	return append(kids, pid)
}

// stop sends SIGTERM to the parent only, which stops its child: keepalived's
// clean shutdown sends a priority 0 advert and drops the VIPs.
func (s *keepalivedSys) stop(i int) error {
	p := s.procs[i]
	if p == nil {
		return fmt.Errorf("n%d: keepalived not started", i)
	}
	return signalAll([]int{p.PID()}, syscall.SIGTERM)
}

// move has no keepalived command: a graceful stop moves the VIPs.
func (s *keepalivedSys) move(_ context.Context, i int) error { return s.stop(i) }

func (s *keepalivedSys) takeover(int, time.Time) *bench.DaemonTimes { return nil }

func (s *keepalivedSys) leader(context.Context, int) (string, uint64, bool) { return "", 0, false }
