package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/history"
	"github.com/raftvip/raftvip/e2e/internal/lab"
)

// writeReport writes report.json, report.md and timeline.svg into out.
func writeReport(out string, rep history.Report, evs []history.Event, command string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(struct {
		Command string `json:"command"`
		history.Report
	}{command, rep}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "report.json"), j, 0o644); err != nil {
		return err
	}
	var md strings.Builder
	markdown(&md, rep, command)
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "timeline.svg"))
	if err != nil {
		return err
	}
	defer f.Close()
	return timeline(f, rep, evs)
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

func at(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// mdTable writes a Markdown table; nothing without rows.
func mdTable(b *strings.Builder, title string, header []string, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "## %s\n\n| %s |\n|%s\n", title, strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, r := range rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(r, " | "))
	}
	b.WriteString("\n")
}

func markdown(b *strings.Builder, rep history.Report, command string) {
	m := rep.Meta
	fmt.Fprintf(b, "# raftvip fault soak\n\n`%s`: seed %d, %d nodes, profile %s, %s of faults and quiet tail, %s recorded.\n\n",
		command, m.Seed, m.Nodes, m.Profile, m.Duration, at(rep.End))
	fmt.Fprintf(b, "**Violations: %d.** Client: %d probes, %d answered (%.2f %%). Holder samples: %d (%d unreadable). "+
		"A quorum had been healthy for the settle time during %v of the run (%.0f %%): the time invariant 2 judges.\n\n",
		len(rep.Violations), rep.Probes, rep.Answered, rep.Availability, rep.HolderSamples, rep.HolderFailed,
		rep.QuorumTime.Round(time.Second), 100*rep.QuorumTime.Seconds()/max(rep.End.Seconds(), 1))
	var rows [][]string
	for _, v := range rep.Verdicts {
		res := "ok"
		if !v.Judged {
			res = "not judged"
		} else if v.Violations > 0 {
			res = fmt.Sprintf("**violated (%d)**", v.Violations)
		}
		rows = append(rows, []string{fmt.Sprint(v.Invariant), v.Name, res})
	}
	mdTable(b, "Invariants", []string{"#", "invariant", "verdict"}, rows)
	rows = nil
	for _, f := range rep.Faults {
		q := "—"
		if f.Quorate > 0 {
			q = ms(f.QuorateLongest)
		}
		rows = append(rows, []string{f.Kind, fmt.Sprint(f.Count), ms(f.LongestOutage), fmt.Sprint(f.Quorate), q, fmt.Sprint(f.QuorateOverGap)})
	}
	mdTable(b, "Faults injected", []string{"kind", "count", "longest client outage (fault + settle time)",
		"of them with a quorum healthy throughout", "their longest outage", "over " + ms(m.MaxGap)}, rows)
	rows = nil
	for _, w := range rep.DualWindows {
		ex := "**no**"
		if w.Excused {
			ex = "yes: a killed or frozen holder within its kernel lease"
		}
		rows = append(rows, []string{w.Addr, at(w.From), ms(w.Len), nodeList(w.Nodes), ex})
	}
	mdTable(b, "Dual-holder windows", []string{"VIP", "from", "length", "nodes", "excused"}, rows)
	rows = nil
	for _, o := range rep.Outages {
		rows = append(rows, []string{at(o.From), at(o.To), ms(o.Len())})
	}
	mdTable(b, "Longest client outages", []string{"last answer", "next answer", "length"}, rows)
	rows = nil
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range rep.Calls {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		op, code, _ := strings.Cut(k, " ")
		if code == "0" {
			code = "no answer"
		}
		rows = append(rows, []string{op, code, fmt.Sprint(rep.Calls[k])})
	}
	mdTable(b, "API calls", []string{"call", "answer", "count"}, rows)
	rows = nil
	for _, t := range rep.Resources {
		v := "not judged (shorter than " + m.ResourceMinSpan.String() + ")"
		if t.Judged {
			v = "no clear growth"
			if t.Growing != "" {
				v = "**grew: " + t.Growing + "**"
			}
		}
		rows = append(rows, []string{lab.NodeName(t.Node), fmt.Sprint(t.PID), t.Span.Round(time.Second).String(),
			fmt.Sprintf("%.1f", t.RSSKiBPerMin), fmt.Sprintf("%.2f", t.FDsPerMin), fmt.Sprintf("%.2f", t.GoroutinesPerMin), v})
	}
	mdTable(b, "Daemon resources (slope per minute over each process's life)",
		[]string{"node", "pid", "life sampled", "RSS KiB/min", "open files/min", "goroutines/min", "verdict"}, rows)
	if len(rep.Violations) > 0 {
		b.WriteString("## Violations\n\n")
		for _, v := range rep.Violations {
			fmt.Fprintf(b, "### invariant %d at %s\n\n%s\n\n```\n%s\n```\n\n", v.Invariant, at(v.At), v.What, strings.Join(v.Excerpt, "\n"))
		}
	}
	fmt.Fprintf(b, "## Bounds\n\nsettle %v (election timeout %v + 5 s), longest tolerated gap %v, kernel lease %v + %v slack + one %v sample, "+
		"resource trends judged over lives of %v or more. See docs/reliability.md.\n",
		m.Settle, m.Election, m.MaxGap, m.Lease, m.KernelSlack, m.Sample, m.ResourceMinSpan)
}

// Timeline layout, in pixels.
const (
	tlWidth  = 1400
	tlLabel  = 170
	tlRight  = 20
	tlRow    = 12
	tlGap    = 4
	tlTop    = 40
	tlAxis   = 30
	tlMerge  = 100 * time.Millisecond // samples closer than this join into one bar
	tlFaultC = "#D55E00"
	tlDualC  = "#CC0000"
	// tlExcusedC is Okabe-Ito yellow, a colour no node has.
	tlExcusedC = "#F0E442"
)

type bar struct {
	from, to time.Duration
	colour   string
	title    string
}

type lane struct {
	label string
	bars  []bar
}

// addBar extends the lane's last bar when b continues it in the same colour.
func (l *lane) addBar(b bar) {
	if n := len(l.bars); n > 0 && l.bars[n-1].colour == b.colour && b.from-l.bars[n-1].to <= tlMerge {
		l.bars[n-1].to = max(l.bars[n-1].to, b.to)
		return
	}
	l.bars = append(l.bars, b)
}

// timeline draws the whole run: who answered the client, who held the main
// VIP, the faults by kind, and the dual-holder windows.
func timeline(w io.Writer, rep history.Report, evs []history.Event) error {
	m := rep.Meta
	main := strings.Split(m.MainVIP, "/")[0]
	client := lane{label: "client answered by"}
	holders := make([]lane, m.Nodes)
	for i := range holders {
		holders[i].label = fmt.Sprintf("%s holds %s", lab.NodeName(i+1), main)
	}
	faultLanes := map[string]*lane{}
	starts := map[int]history.Event{}
	for _, e := range evs {
		switch e.Kind {
		case history.KindProbe:
			if e.Err == "" {
				client.addBar(bar{from: e.T, to: e.T + m.Sample, colour: bench.NodeColour(lab.NodeIndex(e.Answer))})
			}
		case history.KindHolders:
			for i, addrs := range e.Held {
				if slices.Contains(addrs, main) {
					holders[i].addBar(bar{from: e.T, to: e.T + m.Sample, colour: bench.NodeColour(i + 1)})
				}
			}
		case history.KindFault:
			f := e.Fault
			if f.Phase == history.PhaseStart {
				starts[f.ID] = e
				continue
			}
			s := starts[f.ID]
			l := faultLanes[f.Kind]
			if l == nil {
				l = &lane{label: f.Kind}
				faultLanes[f.Kind] = l
			}
			l.bars = append(l.bars, bar{from: s.T, to: max(e.T, s.T+50*time.Millisecond), colour: tlFaultC,
				title: fmt.Sprintf("#%d %s on %s %s", f.ID, f.Kind, nodeList(f.Targets), f.Detail)})
		}
	}
	dual := lane{label: "two holders"}
	for _, d := range rep.DualWindows {
		c := tlExcusedC
		if !d.Excused {
			c = tlDualC
		}
		dual.bars = append(dual.bars, bar{from: d.From, to: d.From + d.Len, colour: c, title: fmt.Sprintf("%s held by %s for %v", d.Addr, nodeList(d.Nodes), d.Len)})
	}
	lanes := append([]lane{client}, holders...)
	lanes = append(lanes, dual)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range faultLanes {
			if !yield(k) {
				return
			}
		}
	}) {
		lanes = append(lanes, *faultLanes[k])
	}
	end := max(rep.End, time.Second)
	x := func(t time.Duration) float64 {
		return tlLabel + float64(min(max(t, 0), end))/float64(end)*(tlWidth-tlLabel-tlRight)
	}
	height := tlTop + len(lanes)*(tlRow+tlGap) + tlAxis
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", tlWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="18" font-size="14" font-weight="bold">%s</text>`+"\n",
		html.EscapeString(fmt.Sprintf("raftvip soak: seed %d, %d nodes, %s; %d violations", m.Seed, m.Nodes, m.Profile, len(rep.Violations))))
	fmt.Fprintf(&b, `<text x="10" y="32" font-size="10">colours: node answering or holding (n1 blue, n2 orange, n3 green, n4 pink, n5 sky); faults red-orange; two holders: yellow excused, red violation; hover a bar for details</text>`+"\n")
	y := tlTop
	for _, l := range lanes {
		fmt.Fprintf(&b, `<text x="10" y="%d">%s</text><rect x="%d" y="%d" width="%d" height="%d" fill="#f2f2f2"/>`,
			y+10, html.EscapeString(l.label), tlLabel, y, tlWidth-tlLabel-tlRight, tlRow)
		for _, br := range l.bars {
			x0, x1 := x(br.from), x(br.to)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s">`, x0, y, max(x1-x0, 0.7), tlRow, br.colour)
			if br.title != "" {
				fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(br.title))
			}
			b.WriteString("</rect>")
		}
		b.WriteString("\n")
		y += tlRow + tlGap
	}
	step := axisStep(end)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", tlLabel, y, tlWidth-tlRight, y)
	for t := time.Duration(0); t <= end; t += step {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/><text x="%.1f" y="%d" font-size="10" text-anchor="middle">%ds</text>`+"\n",
			x(t), y, x(t), y+4, x(t), y+16, int(t.Seconds()))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// axisStep gives about ten ticks over span, in whole seconds.
func axisStep(span time.Duration) time.Duration {
	for _, s := range []int{1, 2, 5, 10, 15, 30, 60, 120, 300} {
		if span/(time.Duration(s)*time.Second) <= 12 {
			return time.Duration(s) * time.Second
		}
	}
	return 10 * time.Minute
}
