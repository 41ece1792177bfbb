package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// Each node has one exec check that passes while a file the test controls
// exists, probed every checkInterval with fall = rise = 2; its notify hooks
// append their event to a file the test reads.
const (
	checkInterval = 200 * time.Millisecond
	checkFall     = 2
)

// haNode is what a health test controls on one node.
type haNode struct {
	okFile, events, config string
}

// haEnv is a lab whose nodes run with health checks, priorities and hooks.
type haEnv struct {
	*env
	nodes map[int]haNode
}

// newHAEnv writes each node's config (priority[i], or 100; preempt on all
// nodes alike) and creates every ok file: the cluster starts healthy.
func newHAEnv(t *testing.T, priority map[int]int, preempt bool) *haEnv {
	t.Helper()
	e := &haEnv{env: newEnv(t), nodes: map[int]haNode{}}
	dir := e.lab.Dir()
	configs := map[int]string{}
	for i := 1; i <= 3; i++ {
		name := lab.NodeName(i)
		n := haNode{okFile: filepath.Join(dir, name+".ok"), events: filepath.Join(dir, name+".events")}
		e.nodes[i] = n
		e.setHealthy(i, true)
		prio := priority[i]
		if prio == 0 {
			prio = 100
		}
		hook := func(ev string) string {
			return fmt.Sprintf(`echo "%s $RAFTVIP_TERM $RAFTVIP_VIPS" >> %s`, ev, n.events)
		}
		cfg := fmt.Sprintf(`priority: %d
preempt: %v
notify-master: '%s'
notify-backup: '%s'
notify-fault: '%s'
checks:
  - name: web
    exec: 'test -e %s'
    interval: %s
    timeout: 150ms
    rise: 2
    fall: %d
`, prio, preempt, hook("master"), hook("backup"), hook("fault"), n.okFile, checkInterval, checkFall)
		configs[i] = filepath.Join(dir, name+".yaml")
		n.config = configs[i]
		e.nodes[i] = n
		if err := os.WriteFile(configs[i], []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.c.PerNode = func(i int) []string { return []string{"-config", configs[i]} }
	return e
}

// setHealthy makes node i's check pass or fail from its next probe on.
func (e *haEnv) setHealthy(i int, ok bool) {
	e.t.Helper()
	var err error
	if ok {
		err = os.WriteFile(e.nodes[i].okFile, nil, 0o600)
	} else {
		err = os.Remove(e.nodes[i].okFile)
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// reported waits until node from's status shows node about reporting healthy
// (or failing, with the failing check named).
func (e *haEnv) reported(from, about int, healthy bool) {
	e.t.Helper()
	e.await(fmt.Sprintf("n%d to see n%d healthy=%v", from, about, healthy), settle, func() error {
		st, err := e.status(from)
		if err != nil {
			return err
		}
		m, ok := st.Member(lab.NodeName(about))
		switch {
		case !ok:
			return fmt.Errorf("n%d is not a member", about)
		case !m.Health.Reported || m.Health.Healthy != healthy:
			return fmt.Errorf("n%d's health: %+v", about, m.Health)
		case !healthy && !strings.Contains(m.Health.Fault, "failing"):
			return fmt.Errorf("n%d's fault does not name the check: %q", about, m.Health.Fault)
		}
		return nil
	})
}

// events returns the hook events node i recorded, oldest first.
func (e *haEnv) events(i int) []string {
	b, err := os.ReadFile(e.nodes[i].events)
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	var evs []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			evs = append(evs, f[0])
		}
	}
	return evs
}

// eventsAre waits until node i's hooks recorded exactly want.
func (e *haEnv) eventsAre(i int, want ...string) {
	e.t.Helper()
	e.await(fmt.Sprintf("n%d's hooks to record %v", i, want), settle, func() error {
		if got := e.events(i); strings.Join(got, " ") != strings.Join(want, " ") {
			return fmt.Errorf("n%d's hooks recorded %v", i, got)
		}
		return nil
	})
}

// stillHeldBy checks, for a while, that i keeps the VIP: no flapping.
func (e *haEnv) stillHeldBy(i int, d time.Duration) {
	e.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if err := e.holdersAre(vip, i); err != nil {
			e.t.Fatalf("while n%d should keep the VIP: %v", i, err)
		}
	}
}

// TestUnhealthyLeaderHandsOver: the holder's check fails; after fall
// failures the VIP moves to a healthy node, the old holder's hooks say master,
// fault, backup, the new holder's backup (at start), master, and every node
// sees why. When the check passes again the VIP stays
// where it is (no preemption by default).
func TestUnhealthyLeaderHandsOver(t *testing.T) {
	e := newHAEnv(t, nil, false)
	old := e.startCluster()
	p := e.probe(vip, old)
	for i := 1; i <= 3; i++ {
		e.reported(old, i, true)
	}
	e.eventsAre(old, "master")

	failAt := time.Now()
	e.setHealthy(old, false)
	n := e.waitHolder(vip, old)
	movedAfter := since(failAt)
	r := e.stopSteady(p, vip, n)
	t.Logf("measured: n%d's check failed; n%d holds the VIP after %v (check interval %v x fall %d + handover); %s",
		old, n, movedAfter, checkInterval, checkFall, r)
	e.noDualHolder(r)
	e.reported(n, old, false)
	out := e.cli(n, "status")
	for _, want := range []string{fmt.Sprintf("took over from n%d", old), "FAILING: check web failing"} {
		if !strings.Contains(out, want) {
			t.Errorf("raftvip status lacks %q:\n%s", want, out)
		}
	}
	e.eventsAre(old, "master", "fault", "backup")
	// n entered BACKUP when it started as a follower, as keepalived's
	// notify_backup does, and MASTER when it took the VIP.
	e.eventsAre(n, "backup", "master")

	e.setHealthy(old, true)
	e.reported(n, old, true)
	e.stillHeldBy(n, 10*checkInterval)
}

// TestPreemptByPriority: with preempt on, the node of highest priority takes
// the VIP from the bootstrap node as soon as it is ready, gives it up when
// its check fails, and takes it back when the check passes again.
func TestPreemptByPriority(t *testing.T) {
	e := newHAEnv(t, map[int]int{3: 200}, true)
	if _, err := e.c.Bootstrap(e.ctx, vipPrefix); err != nil {
		t.Fatal(err)
	}
	e.await("n3, of highest priority, to hold the VIP", settle, func() error { return e.holds(3, vip) })
	st, err := e.status(3)
	if err != nil {
		t.Fatal(err)
	}
	if st.Owner.Previous == "" {
		t.Errorf("status after the preemption names no previous owner: %+v", st.Owner)
	}

	e.setHealthy(3, false)
	n := e.waitHolder(vip, 3)
	e.reported(n, 3, false)
	e.setHealthy(3, true)
	e.await("n3 to take the VIP back", settle, func() error { return e.holds(3, vip) })
}

// TestNoHealthyNodeKeepsVIP: every check fails. The leader keeps the VIP (a
// degraded service beats none), says so in its status, and the client is
// still served.
func TestNoHealthyNodeKeepsVIP(t *testing.T) {
	e := newHAEnv(t, nil, false)
	h := e.startCluster()
	for i := 1; i <= 3; i++ {
		if i != h {
			e.setHealthy(i, false)
			e.reported(h, i, false)
		}
	}
	e.setHealthy(h, false)
	e.await(fmt.Sprintf("n%d to say it is degraded", h), settle, func() error {
		st, err := e.status(h)
		if err == nil && !strings.Contains(st.Degraded, "keeping the VIPs") {
			err = fmt.Errorf("status degraded = %q", st.Degraded)
		}
		return err
	})
	e.stillHeldBy(h, 10*checkInterval)
	if err := e.answeredBy(vip, h); err != nil {
		t.Error(err)
	}
}

// TestReloadOnSIGHUP: a SIGHUP with a broken config file changes nothing; one
// that adds a failing check to the holder moves the VIP, without restarting
// the daemon (same process) and without any node restarting.
func TestReloadOnSIGHUP(t *testing.T) {
	e := newHAEnv(t, nil, false)
	h := e.startCluster()
	for i := 1; i <= 3; i++ {
		e.reported(h, i, true)
	}
	good, err := os.ReadFile(e.nodes[h].config)
	if err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		if err := os.WriteFile(e.nodes[h].config, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logHas := func(what string) func() error {
		return func() error {
			b, err := os.ReadFile(e.lab.LogPath(h))
			if err == nil && !strings.Contains(string(b), what) {
				err = fmt.Errorf("n%d's log lacks %q", h, what)
			}
			return err
		}
	}

	write(string(good) + "    bogus-key: 1\n")
	e.signal(h, syscall.SIGHUP)
	e.await("the bad reload to be refused", settle, logHas("reload refused"))
	e.stillHeldBy(h, 5*checkInterval)

	write(string(good) + "  - name: db\n    exec: 'false'\n    interval: 200ms\n    fall: 1\n")
	e.signal(h, syscall.SIGHUP)
	e.await("the reload to be applied", settle, logHas("configuration reloaded"))
	n := e.waitHolder(vip, h)
	e.reported(n, h, false)
	if !e.c.Proc(h).Running() {
		t.Fatalf("n%d's daemon exited on SIGHUP: %s", h, e.lastLine(h))
	}
}

// metric reads one unlabelled sample from node i's /metrics.
func (e *env) metric(i int, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(e.ctx, apiTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.c.BaseURL(i)+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.c.HTTPClient().Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("n%d's /metrics (HTTP %d) has no %s", i, resp.StatusCode, name)
}

// TestMetrics: /metrics tells the holder from the others, and counts the
// gratuitous ARP it sent and the VIP move of a failover.
func TestMetrics(t *testing.T) {
	e := newHAEnv(t, nil, false)
	h := e.startCluster()
	want := func(i int, name string, ok func(float64) bool) {
		t.Helper()
		e.await(fmt.Sprintf("n%d's %s", i, name), settle, func() error {
			v, err := e.metric(i, name)
			if err == nil && !ok(v) {
				err = fmt.Errorf("%s = %v", name, v)
			}
			return err
		})
	}
	positive := func(v float64) bool { return v > 0 }
	for i := 1; i <= 3; i++ {
		holder := 0.0
		if i == h {
			holder = 1
		}
		want(i, "raftvip_holder", func(v float64) bool { return v == holder })
		want(i, "raftvip_healthy", func(v float64) bool { return v == 1 })
	}
	want(h, "raftvip_gratuitous_arp_sent_total", positive)
	want(h, "raftvip_vips_bound", func(v float64) bool { return v == 1 })

	e.setHealthy(h, false)
	n := e.waitHolder(vip, h)
	want(n, "raftvip_vip_moves_total", positive)
	want(n, "raftvip_last_takeover_seconds", positive)
	want(h, "raftvip_healthy", func(v float64) bool { return v == 0 })
	want(h, "raftvip_vips_bound", func(v float64) bool { return v == 0 })
}
