package agent

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
	"github.com/raftvip/raftvip/internal/metrics"
	"github.com/raftvip/raftvip/internal/notify"
	"github.com/raftvip/raftvip/netops"
)

// nodeHealth is what the cluster learns of a health report: nothing while a
// check has no first result and none fails yet, so that a starting node is
// neither handed to nor hands over on a guess.
func nodeHealth(r health.Report) cluster.Health {
	if r.Healthy {
		return cluster.Health{Known: !r.Pending, Healthy: true}
	}
	var faults []string
	for _, c := range r.Checks {
		if !c.Healthy && !c.Pending {
			f := "check " + c.Name + " failing"
			if c.LastError != "" {
				f += ": " + c.LastError
			}
			faults = append(faults, f)
		}
	}
	return cluster.Health{Known: true, Fault: fsm.TruncateFault(strings.Join(faults, "; "))}
}

// onHealth runs on the health monitor's goroutine for every change of the
// node's health.
func (a *Agent) onHealth(r health.Report) {
	h := nodeHealth(r)
	a.node.SetHealth(h)
	failing := h.Known && !h.Healthy
	if failing && !a.failing {
		_, _, term := a.node.View()
		a.hooks.Fire(notify.EventFault, notify.Info{Node: a.cfg.ID, Term: term, VIPs: a.vipNames(), Reason: h.Fault})
	}
	a.failing = failing
}

// onHeld runs on the reconciler's goroutine when the bound VIPs change: it
// fires the master hook when this node starts holding VIPs and the backup
// hook when it holds none any more.
func (a *Agent) onHeld(held []netip.Prefix, term uint64) {
	holding := len(held) > 0
	if holding == a.holding {
		return
	}
	a.holding, a.announced = holding, true
	ev, vips := notify.EventBackup, a.vipNames()
	if holding {
		ev, vips = notify.EventMaster, strs(held)
	}
	a.hooks.Fire(ev, notify.Info{Node: a.cfg.ID, Term: term, VIPs: vips})
}

// noteRole runs on the reconciler's goroutine on every pass, with the view
// the pass decides on. The first time this node follows another holder,
// before any hook has fired, it fires the backup hook: keepalived runs
// notify_backup on entering BACKUP, at start too, and scripts that set a
// host up as a backup rely on it. onHeld fires every later change.
func (a *Agent) noteRole(st fsm.State, leader bool, term uint64) {
	if a.announced || !startsAsBackup(a.cfg.ID, st.Owner, leader) {
		return
	}
	a.announced = true
	a.hooks.Fire(notify.EventBackup, notify.Info{Node: a.cfg.ID, Term: term, VIPs: strs(st.VIPs)})
}

// startsAsBackup reports whether a node whose state shows owner follows
// another holder: the owner's claim, applied here, is another node's, and
// this node does not lead. A node that has not caught up yet, or whose
// state still names itself from before a restart, waits for the claim of
// the leader it follows.
func startsAsBackup(self string, owner fsm.Owner, leader bool) bool {
	return !leader && owner.Node != "" && owner.Node != self
}

func (a *Agent) vipNames() []string {
	st, _, _ := a.node.View()
	return strs(st.VIPs)
}

// strs is the String of each of xs: hooks get VIPs as prefixes.
func strs[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}

// metricsSources reads everything /metrics shows from its owner.
func (a *Agent) metricsSources() metrics.Sources {
	return metrics.Sources{
		Status: a.node.Status, Cluster: a.node.Stats, Reconciler: a.rec.Stats, Held: a.rec.Held,
		Conflicts: a.rec.Conflicts,
		Healthy:   func() bool { return a.mon.Report().Healthy },
		Checks: func() []metrics.Check {
			r := a.mon.Report()
			out := make([]metrics.Check, len(r.Checks))
			for i, c := range r.Checks {
				out[i] = metrics.Check{Name: c.Name, Healthy: c.Healthy, Pending: c.Pending}
			}
			return out
		},
	}
}

// statusConflicts are the reconciler's conflicts as /v1/status shows them.
func (a *Agent) statusConflicts() []cluster.AddressConflict {
	return addressConflicts(a.rec.Conflicts())
}

func addressConflicts(cs []netops.Conflict) []cluster.AddressConflict {
	out := make([]cluster.AddressConflict, len(cs))
	for i, c := range cs {
		out[i] = cluster.AddressConflict{VIP: c.VIP.Prefix.String(), Link: c.At.Link, MAC: c.MAC, Held: c.Held, Text: c.String()}
		if c.MAC == "" {
			out[i].Address = c.At.Prefix.String()
		}
	}
	return out
}
