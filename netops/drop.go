package netops

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// dropReason says why node me does not hold VIPs it held, for the log: the
// cluster's own reason when it gave one, otherwise what Desired saw.
func dropReason(v View, me string, stopping bool) string {
	o := v.State.Owner
	switch {
	case stopping:
		return "shutting down"
	case !v.Leader && v.Why != "":
		return v.Why
	case !v.Leader:
		return "not the leader"
	case o.Node != me:
		return fmt.Sprintf("the VIPs' owner is %s (term %d)", o.Node, o.Term)
	case o.Term != v.Term:
		return fmt.Sprintf("no committed claim in term %d (the last is of term %d)", v.Term, o.Term)
	}
	return "removed from the cluster's VIP set"
}

// heldNotice decides when OnHeld hears of a change of the held VIPs. The
// rule: taking VIPs, and dropping them for any reason but a lapse of the
// quorum lease, is reported at once. A drop because the lease lapsed while
// Raft still leads is reported only once it has lasted grace, or turned into
// something else (leadership lost, a new term, shutdown): the cluster
// usually proves its leadership again within milliseconds (a CPU stall), the
// VIPs come back in the same term, and a backup hook followed by a master
// hook (a database demoted and promoted again) would do more harm than the
// blip itself. If they come back within grace, OnHeld hears nothing at all.
type heldNotice struct {
	told    []netip.Prefix // what OnHeld last heard
	waiting time.Time      // when an unreported lapse drop began; zero if none
}

// next returns whether OnHeld must hear of held now and, if a report is
// deferred, when to look again.
func (h *heldNotice) next(held []netip.Prefix, v View, now time.Time, grace time.Duration, final bool) (tell bool, due time.Time) {
	if slices.Equal(held, h.told) {
		h.waiting = time.Time{}
		return false, time.Time{}
	}
	lapse := v.Lapsed && !final && len(held) < len(h.told)
	if lapse {
		if h.waiting.IsZero() {
			h.waiting = now
		}
		if end := h.waiting.Add(grace); now.Before(end) {
			return false, end
		}
	}
	h.told, h.waiting = slices.Clone(held), time.Time{}
	return true, time.Time{}
}
