// Package metrics serves raftvip's Prometheus metrics. Every figure is read
// from its owner at scrape time (the cluster node, the reconciler, the health
// checks), so nothing here keeps state that could drift from theirs.
package metrics

import (
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/netops"
)

// Check is one health check's state as metrics show it.
type Check struct {
	Name    string
	Healthy bool
	// Pending checks have no result yet and are left out.
	Pending bool
}

// Sources are the readers a scrape calls. Any may be nil: its metrics are
// then left out.
type Sources struct {
	Status     func() cluster.Status
	Cluster    func() cluster.Stats
	Reconciler func() netops.Stats
	// Held are the VIPs this node has bound.
	Held func() []netip.Prefix
	// Conflicts are the VIPs this node does not serve, or serves contested
	// (netops.Reconciler.Conflicts).
	Conflicts func() []netops.Conflict
	// Checks are this node's health checks, and Healthy its overall health.
	Checks  func() []Check
	Healthy func() bool
}

// Handler returns the /metrics handler over a registry of its own, with the
// Go runtime's and the process's collectors (CPU, RSS, file descriptors).
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collector{src: src})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("raftvip_"+name, help, labels, nil)
}

var (
	descLeader       = desc("leader", "1 if this node is the Raft leader.")
	descHolder       = desc("holder", "1 if this node holds the VIPs (leader with a committed claim in its term).")
	descTerm         = desc("raft_term", "Current Raft term.")
	descMembers      = desc("members", "Members of the Raft configuration, by suffrage.", "suffrage")
	descVIPs         = desc("vips", "VIPs in the replicated set.")
	descBound        = desc("vips_bound", "VIPs this node has bound in the kernel.")
	descLeaderChg    = desc("leader_changes_total", "Times this node saw a new leader.")
	descMoves        = desc("vip_moves_total", "Claims that moved the VIPs to another node, as applied on this node.")
	descTakeover     = desc("last_takeover_seconds", "How long the cluster went without a holder before the current owner's claim, as the owner measured it.")
	descGARP         = desc("gratuitous_arp_sent_total", "Gratuitous ARP announcements sent for IPv4 VIPs.")
	descNA           = desc("unsolicited_na_sent_total", "Unsolicited neighbour advertisements sent for IPv6 VIPs.")
	descAnnounceFail = desc("announce_failures_total", "Announcements that could not be sent.")
	descCommit       = desc("raft_commit_seconds", "This node's log writes, from submission to applied (leader only).")
	descLastContact  = desc("raft_last_contact_seconds", "Seconds since this follower last heard from the leader.")
	descApplied      = desc("raft_applied_index", "Last log index applied to the FSM.")
	descCommitIdx    = desc("raft_commit_index", "Last log index known committed.")
	descHealthy      = desc("healthy", "1 if every health check of this node passes.")
	descCheck        = desc("health_check_healthy", "1 if the health check passes (after rise/fall).", "check")
	descDegraded     = desc("degraded", "1 if this leader keeps the VIPs although unhealthy, for want of a healthy voter, or is a witness that finds no VIP-capable voter to hand leadership to.")
	descPriority     = desc("priority", "This node's configured priority.")
	descWitnessLead  = desc("witness_leading", "1 if this node is a witness and leads: it holds nothing, and no node holds the VIPs until it hands leadership to a VIP-capable voter.")
	descInUse        = desc("vip_address_in_use", "1 for each VIP another host on the LAN answers for (not bound) or announces while this node holds it.", "vip")
	descInUseTotal   = desc("vip_address_in_use_total", "Episodes of another host on the LAN answering for a VIP before its first bind, or announcing a held one.")
	descPeerReach    = desc("peer_reachable", "1 if the leader's heartbeats reach the member (leader only).", "peer")
	descPeerContact  = desc("peer_last_contact_seconds", "Seconds since the leader last heard from an unreachable member (leader only).", "peer")
	descRemoved      = desc("removed", "1 if this node runs but is no longer in the cluster's Raft configuration.")
	descConflicts    = desc("vip_conflicts", "VIPs this node does not bind or serves contested: an address raftvip did not add is in the way, or another host on the LAN answers for or announces it.")
)

type collector struct{ src Sources }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descHolder, descTerm, descMembers, descVIPs, descBound,
		descLeaderChg, descMoves, descTakeover, descGARP, descNA, descAnnounceFail, descCommit, descLastContact,
		descApplied, descCommitIdx, descHealthy, descCheck, descDegraded, descPriority, descWitnessLead, descInUse,
		descInUseTotal, descPeerReach, descPeerContact, descRemoved, descConflicts} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	if c.src.Status != nil {
		st := c.src.Status()
		gauge(descLeader, bit(st.State == cluster.RoleLeader))
		gauge(descHolder, bit(st.Holder))
		gauge(descTerm, float64(st.Term))
		bySuffrage := map[string]int{"voter": 0, "nonvoter": 0, "staging": 0}
		for _, m := range st.Members {
			bySuffrage[m.Suffrage]++
		}
		for s, n := range bySuffrage {
			gauge(descMembers, float64(n), s)
		}
		gauge(descVIPs, float64(len(st.VIPs)))
		if st.Owner.Takeover > 0 {
			gauge(descTakeover, float64(st.Owner.Takeover)/1000)
		}
		if !st.LastContact.IsZero() {
			gauge(descLastContact, time.Since(st.LastContact).Seconds())
		}
		gauge(descApplied, float64(st.AppliedIndex))
		gauge(descCommitIdx, float64(st.CommitIndex))
		gauge(descDegraded, bit(st.Degraded != ""))
		gauge(descPriority, float64(st.Priority))
		gauge(descWitnessLead, bit(st.Witness && st.State == cluster.RoleLeader))
		gauge(descRemoved, bit(st.Removed))
		peers(st, gauge)
	}
	if c.src.Conflicts != nil {
		gauge(descConflicts, float64(len(c.src.Conflicts())))
	}
	if c.src.Cluster != nil {
		s := c.src.Cluster()
		counter(descLeaderChg, s.LeaderChanges)
		counter(descMoves, s.VIPMoves)
		ch <- prometheus.MustNewConstSummary(descCommit, s.Commits, s.CommitTime.Seconds(), nil)
	}
	if c.src.Reconciler != nil {
		s := c.src.Reconciler()
		counter(descGARP, s.ARP)
		counter(descNA, s.NA)
		counter(descAnnounceFail, s.Failed)
		counter(descInUseTotal, s.InUse)
	}
	if c.src.Conflicts != nil {
		for _, vip := range inUse(c.src.Conflicts()) {
			gauge(descInUse, 1, vip)
		}
	}
	if c.src.Held != nil {
		gauge(descBound, float64(len(c.src.Held())))
	}
	if c.src.Healthy != nil {
		gauge(descHealthy, bit(c.src.Healthy()))
	}
	if c.src.Checks != nil {
		for _, chk := range c.src.Checks() {
			if !chk.Pending {
				gauge(descCheck, bit(chk.Healthy), chk.Name)
			}
		}
	}
}

// peers reports the leader's view of each other member's reachability;
// nodes that do not lead have none.
func peers(st cluster.Status, gauge func(*prometheus.Desc, float64, ...string)) {
	for _, m := range st.Members {
		if m.ID == st.ID || m.Reachable == nil {
			continue
		}
		gauge(descPeerReach, bit(*m.Reachable), m.ID)
		if !*m.Reachable && !m.LastContact.IsZero() {
			gauge(descPeerContact, time.Since(m.LastContact).Seconds(), m.ID)
		}
	}
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// inUse returns the VIPs, once each, that another host on the LAN answers for
// or announces.
func inUse(cs []netops.Conflict) []string {
	var out []string
	for _, c := range cs {
		if v := c.VIP.Prefix.String(); c.MAC != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
