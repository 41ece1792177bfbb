package history

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Excerpt renders the events between from and to as at most max lines, for
// a violation's report: holder samples only where the holders changed, probe
// dials only where the answer changed (with how many dials the previous line
// covered), everything else one line each.
func Excerpt(evs []Event, from, to time.Duration, max int) []string {
	var out []string
	lastHeld, lastProbe, run, at := "", "", 0, -1
	flush := func() {
		if run > 1 && at >= 0 && at < len(out) {
			out[at] += fmt.Sprintf(" (×%d)", run)
		}
		run = 0
	}
	for _, e := range evs {
		if e.T < from || e.T > to {
			continue
		}
		var line string
		switch e.Kind {
		case KindHolders:
			h := heldString(e)
			if h == lastHeld {
				continue
			}
			lastHeld, line = h, "holders "+h
		case KindProbe:
			p := "probe answered by " + e.Answer
			if e.Err != "" {
				p = "probe failed: " + e.Err
			}
			if p == lastProbe {
				run++
				continue
			}
			flush()
			lastProbe, run, line, at = p, 1, p, len(out)
		default:
			line = Describe(e)
		}
		if len(out) >= max {
			out = append(out, "…")
			break
		}
		out = append(out, fmt.Sprintf("%10s %s", fmtT(e.T), line))
	}
	flush()
	return out
}

// heldString shows a holder sample: "n1[192.0.2.100] n2[] n3[]".
func heldString(e Event) string {
	if e.Err != "" {
		return "unreadable: " + e.Err
	}
	parts := make([]string, len(e.Held))
	for k, a := range e.Held {
		parts[k] = fmt.Sprintf("n%d[%s]", k+1, strings.Join(a, ","))
	}
	return strings.Join(parts, " ")
}

// Describe renders one event other than a sample.
func Describe(e Event) string {
	switch e.Kind {
	case KindFault:
		if f := e.Fault; f != nil {
			s := fmt.Sprintf("fault #%d %s %s targets %s", f.ID, f.Kind, f.Phase, names(f.Targets))
			if f.Phase == PhaseStart {
				s += " affects " + names(f.Affected)
			}
			if f.Detail != "" {
				s += " (" + f.Detail + ")"
			}
			return s
		}
	case KindSignal:
		return fmt.Sprintf("SIG%s to n%d", e.Signal, e.Node)
	case KindStart:
		return fmt.Sprintf("n%d started (pid %d)", e.Node, e.PID)
	case KindExit:
		return fmt.Sprintf("n%d exited (pid %d, code %d) %s", e.Node, e.PID, e.Code, e.Err)
	case KindAPI:
		if c := e.Call; c != nil {
			s := fmt.Sprintf("API %s %s via n%d → %d in %v", c.Op, c.Arg, e.Node, c.Code, c.Took.Round(time.Millisecond))
			if e.Err != "" {
				s += ": " + e.Err
			} else if !c.Acked() && c.Body != "" {
				s += ": " + c.Body
			}
			return s
		}
	case KindRes:
		if r := e.Res; r != nil {
			return fmt.Sprintf("n%d resources: RSS %.0f KiB, %.0f fds, %.0f goroutines", e.Node, r.RSSKiB, r.FDs, r.Goroutines)
		}
	case KindPanic:
		return fmt.Sprintf("n%d log: %s", e.Node, e.Line)
	case KindStuck:
		return fmt.Sprintf("n%d %s", e.Node, e.Line)
	case KindFinal:
		if f := e.Final; f != nil {
			return fmt.Sprintf("n%d final: %s, leader %s, owner %s, VIPs %v, members %v", e.Node, f.State, f.LeaderID, f.Owner, f.VIPs, f.Members)
		}
		return fmt.Sprintf("n%d final: %s", e.Node, e.Err)
	case KindMeta:
		return "run started"
	}
	return e.Kind
}

// Live is the one-line summary printed while a soak runs: the history so far,
// checked as partial.
func Live(evs []Event) string {
	r := Check(evs, true)
	active, total := 0, 0
	var kinds []string
	for _, f := range r.Faults {
		total += f.Count
	}
	started := map[int]string{}
	for _, e := range evs {
		if e.Kind == KindFault && e.Fault != nil {
			if e.Fault.Phase == PhaseStart {
				started[e.Fault.ID] = e.Fault.Kind
			} else {
				delete(started, e.Fault.ID)
			}
		}
	}
	for _, k := range started {
		active++
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	dual, bad := 0, 0
	for _, w := range r.DualWindows {
		dual++
		if !w.Excused {
			bad++
		}
	}
	return fmt.Sprintf("t=%v faults %d (active: %d %v) client answered %.2f%% of %d probes, healthy quorum %v, dual-holder windows %d (%d unexcused), violations %d",
		r.End.Round(time.Second), total, active, kinds, r.Availability, r.Probes, r.QuorumTime.Round(time.Second), dual, bad, len(r.Violations))
}
