package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// WriteMarkdown renders res as the tables of results.md.
func WriteMarkdown(w io.Writer, res Results) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# raftvip failover benchmark\n\n")
	fmt.Fprintf(&b, "Started %s; `%s`; %d CPUs, kernel %s, keepalived: %s; client probe every %d ms.\n\n",
		res.Started.Format("2006-01-02 15:04 MST"), res.Command, res.Machine.CPUs, res.Machine.Kernel, res.Machine.Keepalived, res.Machine.ProbeMs)
	failoverTable(&b, res.Summary)
	ratioTable(&b, res.Ratios)
	recoveryTable(&b, res.Summary)
	daemonTable(&b, res.Summary)
	allVIPsTable(&b, res.Runs)
	resourceTable(&b, res.Resources)
	stabilityTable(&b, res.Stability)
	disturbanceTable(&b, res.Disturbance)
	var lines []string
	for _, v := range res.Targets {
		lines = append(lines, row(v.Target, v.Measured, v.Met))
	}
	table(&b, "Targets (raftvip)", "", []string{"target", "measured", "met"}, lines)
	if len(res.Notes) > 0 {
		b.WriteString("## Notes\n\n")
		for _, n := range res.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// table writes a section with a Markdown table; nothing without lines.
func table(b *strings.Builder, title, intro string, header, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n", title)
	if intro != "" {
		b.WriteString(intro + "\n\n")
	}
	b.WriteString(row(header...) + "\n|" + strings.Repeat("---|", len(header)) + "\n")
	b.WriteString(strings.Join(lines, "\n") + "\n\n")
}

// row formats the cells of one table row.
func row(cells ...string) string { return "| " + strings.Join(cells, " | ") + " |" }

func failoverTable(b *strings.Builder, rows []Row) {
	var lines []string
	for _, r := range rows {
		lines = append(lines, row(r.Scenario, r.System, r.Profile, fmt.Sprint(r.Runs), span(r.Outage), span(r.Takeover),
			fmt.Sprintf("%s (%d)", maxOf(r.DualHolder), r.DualHolderRuns), maxOf(r.Flaps), failoverNotes(r)))
	}
	table(b, "Failover, as the client saw it",
		"Milliseconds: median [min..max] over the runs. Outage: longest time without an answer. "+
			"Takeover: fault → first answer from another node. Dual holder: longest time two nodes had the VIP at once "+
			"(\"still dual at the end\": two holders when the run ended, so a lower bound). "+
			"Flaps: changes of the answering node (a clean failover is 1).",
		[]string{"scenario", "system", "profile", "runs", "outage", "takeover", "dual holder, longest (runs with any)", "flaps, max", "notes"},
		lines)
}

// failoverNotes names the runs that did not end cleanly.
func failoverNotes(r Row) string {
	var notes []string
	for _, n := range []struct {
		count int
		what  string
	}{
		{r.Errors, "failed"}, {r.Unrecovered, "unrecovered"}, {r.NoTakeover, "without takeover"}, {r.DualHolderToEnd, "still dual at the end"},
	} {
		if n.count > 0 {
			notes = append(notes, fmt.Sprintf("%d %s", n.count, n.what))
		}
	}
	return strings.Join(notes, "; ")
}

func ratioTable(b *strings.Builder, ratios []Ratio) {
	var lines []string
	for _, r := range ratios {
		lines = append(lines, row(r.Scenario, r.Pairing.Raftvip+" / "+r.Pairing.Keepalived, ratioSpan(r.Outage), ratioSpan(r.Takeover)))
	}
	table(b, "raftvip / keepalived",
		"Run against run: run i of raftvip divided by run i of keepalived (they ran back to back); "+
			"median of those ratios [min..max] (pairs). Below 1 means raftvip was faster. "+
			"Pairs where keepalived's figure was 0 have no ratio.",
		[]string{"scenario", "raftvip profile / keepalived profile", "outage ratio", "takeover ratio"}, lines)
}

// recoveryTable says what the client saw after each fault that ends had
// ended: the old holder back on the LAN, healed, thawed or started again.
func recoveryTable(b *strings.Builder, rows []Row) {
	var lines []string
	for _, r := range rows {
		if r.RecoveryRuns == 0 {
			continue
		}
		lines = append(lines, row(r.Scenario, r.System, r.Profile, r.Recovery, fmt.Sprint(r.RecoveryRuns),
			fmt.Sprint(r.AfterRecoveryRuns), num(r.AfterRecoveryLongestMs), fmt.Sprint(r.AfterRecoverySwitches)))
	}
	table(b, "After the recovery",
		"Once the fault ended (the old holder's host back on the LAN, the partition healed, its daemon thawed with SIGCONT or "+
			"started again after SIGTERM), nobody should notice: runs with an outage that began after the recovery, the longest "+
			"of them in ms, and the most changes of the answering node in one run (a VIP moving back, as keepalived's preemption "+
			"does, is one).",
		[]string{"scenario", "system", "profile", "recovery", "runs", "runs with an outage after it", "longest, ms", "answering node changes, max"},
		lines)
}

func daemonTable(b *strings.Builder, rows []Row) {
	var lines []string
	for _, r := range rows {
		if r.System == Raftvip && r.Elected.N > 0 {
			lines = append(lines, row(r.Scenario, r.Profile, fmt.Sprint(r.VIPs), span(r.Elected), span(r.ElectedToClaimed),
				span(r.ClaimToLastBound), span(r.ClaimToLastAnnounced), span(r.ElectedToLastBound)))
		}
	}
	table(b, "raftvip takeover, from the new leader's log",
		"Milliseconds, median [min..max], from the timestamps of the new leader's log lines (1 ms resolution): "+
			"\"raft state\" state=Leader (elected), \"claimed the VIPs\" (claim committed), the last \"bound VIP\" and the last first "+
			"\"announcing VIP\" of the new term.",
		[]string{"scenario", "profile", "VIPs bound", "fault → elected", "elected → claim committed", "claim → last bound",
			"claim → last announced", "elected → last bound"}, lines)
}

// allVIPsTable gives, for every raftvip run with more than one VIP, the
// time from the committed claim until all of them were bound and announced.
func allVIPsTable(b *strings.Builder, runs []Run) {
	var lines []string
	for _, r := range runs {
		if r.System != Raftvip || r.VIPs < 2 || r.Err != "" {
			continue
		}
		bound, announced, toBound, toAnnounced := "—", "—", "—", "—"
		if d := r.Daemon; d != nil {
			bound, announced = fmt.Sprint(d.Bound), fmt.Sprint(d.Announced)
			if d.Bound >= r.VIPs {
				toBound = orDash(d.ClaimToLastBound())
			}
			if d.Announced >= r.VIPs {
				toAnnounced = orDash(d.ClaimToLastAnnounced())
			}
		}
		lines = append(lines, row(r.Scenario, r.Profile, fmt.Sprint(r.Index), r.Taker, fmt.Sprint(r.VIPs), bound, announced, toBound, toAnnounced))
	}
	table(b, "All VIPs bound and announced, per run (raftvip)",
		"Milliseconds from the new holder's \"claimed the VIPs\" line (the claim is committed) to the first \"bound VIP\" line "+
			"of the last of its VIPs (logged after the netlink call returned) and to the first \"announcing VIP\" line of the last "+
			"of them (logged just before its first gratuitous ARP or NA is sent), 1 ms resolution. \"—\" where the log does not "+
			"show every VIP.",
		[]string{"scenario", "profile", "run", "new holder", "VIPs", "bound", "announced", "claim → all bound", "claim → all announced"}, lines)
}

// orDash formats a figure, "—" for a missing one (NaN).
func orDash(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return num(v)
}

func resourceTable(b *strings.Builder, res []Resource) {
	var lines []string
	for _, r := range res {
		lines = append(lines, row(r.System, r.Profile, r.Node, r.Role, fmt.Sprintf("%.0f s", r.Seconds),
			fmt.Sprintf("%.2f", r.CPUPercent), fmt.Sprintf("%.0f", r.Wakeups), fmt.Sprintf("%.1f", r.RSSMiB), r.Err))
	}
	table(b, "Idle footprint",
		"CPU: utime+stime over the window from /proc/PID/stat, in percent of one core. "+
			"Wake-ups: voluntary context switches of all threads (/proc/PID/task/*/status) per second. "+
			"RSS: largest VmRSS sampled (keepalived: parent and VRRP child summed).",
		[]string{"system", "profile", "node", "role", "window", "CPU, % of a core", "wake-ups/s", "RSS, MiB", "error"}, lines)
}

func stabilityTable(b *strings.Builder, stab []Stability) {
	var lines []string
	for _, s := range stab {
		lines = append(lines, row(s.System, s.Profile, fmt.Sprintf("%.0f s", s.Seconds), fmt.Sprint(s.Hogs),
			fmt.Sprint(s.LeaderChanges), fmt.Sprint(s.TermChanges), fmt.Sprint(s.VIPMoves),
			num(s.DualHolderMs), num(s.OutageMs), fmt.Sprint(s.Flaps), s.Err))
	}
	table(b, "Stability under a CPU hog",
		"An idle cluster while one busy loop per CPU runs; the client probes the VIP all along. "+
			"Leader and term changes: from every node's /v1/status, polled every 250 ms (-1: keepalived has none). "+
			"VIP moves: changes of the set of holders.",
		[]string{"system", "profile", "window", "hogs", "leader changes", "term changes", "VIP moves", "dual holder, ms",
			"longest outage, ms", "flaps", "error"}, lines)
}

func disturbanceTable(b *strings.Builder, ds []Disturbance) {
	var lines []string
	for _, d := range ds {
		lines = append(lines, row(d.System, d.Profile, fmt.Sprintf("%.0f s", d.Seconds), fmt.Sprint(d.Hogs),
			fmt.Sprint(d.Restarts), fmt.Sprint(d.Freezes), fmt.Sprint(len(d.Moves)), fmt.Sprint(len(d.Outages)),
			num(d.OutageTotalMs), num(d.LongestMs), fmt.Sprintf("%.2f %% of %d", d.AnsweredPct(), d.Probes), d.Verdict, d.Err))
	}
	table(b, "Disturbance run",
		"A cluster under one busy loop per CPU while a node that does not hold the VIP is restarted (SIGTERM, exit, "+
			"start) every 30 s and one is frozen for 150 ms every 20 s, round-robin over those nodes; the client probes "+
			"the VIP every 10 ms and the holders are sampled every 10 ms. Target: no holder change and no client outage. "+
			"Times below are seconds since the run's start.",
		[]string{"system", "profile", "window", "hogs", "restarts", "freezes", "holder changes", "outages",
			"outage total, ms", "longest outage, ms", "probes answered", "target", "error"}, lines)
	for _, d := range ds {
		for _, m := range d.Moves {
			fmt.Fprintf(b, "- %s %s: holders %v → %v at %s%s\n", d.System, d.Profile, m.From, m.To, seconds(m.AtMs), after(d.Actions, m.AtMs))
		}
		for _, o := range d.Outages {
			end := ""
			if o.Unrecovered {
				end = ", unrecovered at the end"
			}
			if len(o.HeldBy) > 0 {
				end += fmt.Sprintf(", VIP held by %s throughout", nodeList(o.HeldBy))
			}
			fmt.Fprintf(b, "- %s %s: outage of %s ms at %s%s, %d failed dials%s\n",
				d.System, d.Profile, num(o.Ms), seconds(o.AtMs), after(d.Actions, o.AtMs), o.FailedDials, end)
		}
	}
	if slices.ContainsFunc(ds, func(d Disturbance) bool { return len(d.Moves)+len(d.Outages) > 0 }) {
		b.WriteString("\n")
	}
}

// nodeList names nodes: "n1", "n1 and n2".
func nodeList(nodes []int) string {
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = fmt.Sprintf("n%d", n)
	}
	return strings.Join(names, " and ")
}

// seconds formats a time of a run, given in milliseconds, as "+61.23 s".
func seconds(ms float64) string { return fmt.Sprintf("%+.2f s", ms/1000) }

// after names the action an event followed: " (1.20 s after the restart of n2)".
func after(actions []Action, atMs float64) string {
	a, ok := Before(actions, atMs)
	if !ok {
		return ""
	}
	return fmt.Sprintf(" (%.2f s after the %s of %s)", (atMs-a.AtMs)/1000, a.Kind, a.Node)
}

// span formats "median [min..max]", or "—" without values.
func span(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	if s.N == 1 {
		return num(s.Median)
	}
	return fmt.Sprintf("%s [%s..%s]", num(s.Median), num(s.Min), num(s.Max))
}

func maxOf(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	return num(s.Max)
}

func ratioSpan(s Stat) string {
	if s.N == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f [%.2f..%.2f] (%d)", s.Median, s.Min, s.Max, s.N)
}
