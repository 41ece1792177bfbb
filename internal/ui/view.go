package ui

import (
	"fmt"
	"slices"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// View is what the page shows, as /ui/status.json serves it. It is built
// field by field from cluster.Status, so nothing the page must not show (a
// token, key material) can reach it by a field added to Status later.
type View struct {
	// Node is the node serving the page; Role its Raft role.
	Node string `json:"node"`
	Role string `json:"role"`
	Term uint64 `json:"term"`
	// Leader is the leader this node knows ("" for none).
	Leader string `json:"leader,omitempty"`
	// Contact is "ok", "no-leader" or "stale", and ContactText says the same
	// in plain words; LastContactMs is how long ago this node last heard from
	// the leader (-1 on the leader itself or before any contact).
	Contact       string `json:"contact"`
	ContactText   string `json:"contact_text"`
	LastContactMs int64  `json:"last_contact_ms"`

	// Holder is the node holding the VIPs as far as this node knows ("" for
	// none); HolderText says it in plain words.
	Holder     string `json:"holder,omitempty"`
	HolderText string `json:"holder_text"`
	// Degraded is set when the holder keeps the VIPs although unhealthy.
	Degraded string   `json:"degraded,omitempty"`
	VIPs     []string `json:"vips"`

	Members []MemberView `json:"members"`
	// History is the failover history, newest first.
	History []ChangeView `json:"history"`
	// Now is the serving node's clock (Unix ms), for the ages on the page.
	Now int64 `json:"now"`
}

// MemberView is one row of the members table.
type MemberView struct {
	ID string `json:"id"`
	// Role is "leader", "follower", "witness" (votes, never holds the VIPs;
	// "witness, leading" while it leads), "non-voter" or "joining".
	Role     string `json:"role"`
	RaftAddr string `json:"raft_addr"`
	// Health is "healthy", "failing" or "unknown" (not reported yet); Fault
	// names the failing checks.
	Health   string `json:"health"`
	Fault    string `json:"fault,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Holds    bool   `json:"holds"`
	// Contact is what this node knows of its link to the member: "self",
	// "leader" (View.LastContactMs says how long ago this node heard from
	// it), "unreachable" (the leader's heartbeats fail to reach it), "ok"
	// (the leader reaches it) or "" (a follower does not know). From
	// cluster.Member's Reachable.
	Contact string `json:"contact,omitempty"`
	// LastContactMs is, for an unreachable member, how long ago the leader
	// last heard from it (cluster.Member's LastContact); 0 when not known.
	LastContactMs int64 `json:"last_contact_ms,omitempty"`
}

// ChangeView is one entry of the failover timeline.
type ChangeView struct {
	At       int64  `json:"at,omitempty"`
	From     string `json:"from,omitempty"`
	To       string `json:"to"`
	Term     uint64 `json:"term"`
	Reason   string `json:"reason"`
	Why      string `json:"why"`
	Takeover int64  `json:"takeover_ms"`
}

// buildView turns st, read at now, into the page's view. staleAfter is how
// old the last contact with the leader may be before the page says this node
// has lost contact with the cluster.
func buildView(st cluster.Status, now time.Time, staleAfter time.Duration) View {
	v := View{
		Node: st.ID, Role: roleWord(st.State), Term: st.Term, Leader: st.LeaderID,
		LastContactMs: -1, VIPs: []string{}, Members: []MemberView{}, History: []ChangeView{},
		Now: now.UnixMilli(),
	}
	if !st.LastContact.IsZero() {
		v.LastContactMs = now.Sub(st.LastContact).Milliseconds()
	}
	v.Contact, v.ContactText = contact(st, now, staleAfter)
	for _, p := range st.VIPs {
		v.VIPs = append(v.VIPs, p.String())
	}
	v.Holder, v.HolderText = holder(st, v.Contact)
	v.Degraded = degraded(st, v.Holder)
	for _, m := range st.Members {
		v.Members = append(v.Members, memberView(st, m, v.Holder, now))
	}
	for _, c := range slices.Backward(st.History) {
		v.History = append(v.History, ChangeView{At: c.At, From: c.From, To: c.To, Term: c.Term,
			Reason: string(c.Reason), Why: why(c.Reason), Takeover: c.Takeover})
	}
	return v
}

func roleWord(r cluster.Role) string {
	switch r {
	case cluster.RoleLeader:
		return "leader"
	case cluster.RoleFollower:
		return "follower"
	case cluster.RoleCandidate:
		return "candidate"
	case cluster.RoleShutdown:
		return "shut down"
	}
	return string(r)
}

// contact says whether the node serving the page is in touch with a leader.
func contact(st cluster.Status, now time.Time, staleAfter time.Duration) (state, text string) {
	switch {
	case st.State == cluster.RoleLeader:
		return "ok", fmt.Sprintf("%s is the leader", st.ID)
	case st.LeaderID == "":
		return "no-leader", fmt.Sprintf("%s knows no leader: it has lost contact with the cluster, "+
			"or an election is under way", st.ID)
	case !st.LastContact.IsZero() && now.Sub(st.LastContact) > staleAfter:
		return "stale", fmt.Sprintf("%s last heard from the leader %s %s ago: it has lost contact with the cluster",
			st.ID, st.LeaderID, now.Sub(st.LastContact).Round(100*time.Millisecond))
	}
	return "ok", fmt.Sprintf("%s follows the leader %s", st.ID, st.LeaderID)
}

// holder names the node holding the VIPs: the owner, if it is the leader this
// node knows and its claim is of the current term.
func holder(st cluster.Status, contact string) (id, text string) {
	o := st.Owner
	switch {
	case len(st.VIPs) == 0:
		return "", "no VIPs configured"
	case contact == "no-leader":
		return "", "no leader: no node holds the VIPs as far as " + st.ID + " knows"
	case o.Node != "" && o.Node == st.LeaderID && o.Term == st.Term:
		return o.Node, fmt.Sprintf("held by %s since term %d", o.Node, o.Term)
	case st.LeaderID != "":
		return "", fmt.Sprintf("%s was elected in term %d and is claiming the VIPs", st.LeaderID, st.Term)
	}
	return "", "no node holds the VIPs"
}

// degraded says why the holder keeps the VIPs although unhealthy: the leader
// itself says so, and a follower infers it from the holder's health report.
func degraded(st cluster.Status, holder string) string {
	if st.Degraded != "" {
		return st.Degraded
	}
	for _, m := range st.Members {
		if m.ID == holder && holder != "" && m.Health.Reported && !m.Health.Healthy {
			return fmt.Sprintf("%s holds the VIPs although its health checks fail: no healthy voter can take over", holder)
		}
	}
	return ""
}

func memberView(st cluster.Status, m cluster.Member, holder string, now time.Time) MemberView {
	mv := MemberView{ID: m.ID, RaftAddr: m.RaftAddr, Holds: m.ID == holder && holder != "",
		Priority: m.Health.Priority, Fault: m.Health.Fault}
	switch {
	case m.Role == "witness" && m.Leader:
		mv.Role = "witness, leading"
	case m.Role == "witness":
		mv.Role = "witness"
	case m.Leader:
		mv.Role = "leader"
	case m.Suffrage == "voter":
		mv.Role = "follower"
	case m.Suffrage == "nonvoter":
		mv.Role = "non-voter"
	case m.Suffrage == "staging":
		mv.Role = "joining"
	default:
		mv.Role = m.Suffrage
	}
	switch {
	case !m.Health.Reported:
		mv.Health = "unknown"
	case m.Health.Healthy:
		mv.Health = "healthy"
	default:
		mv.Health = "failing"
	}
	switch {
	case m.ID == st.ID:
		mv.Contact = "self"
	case m.Leader:
		mv.Contact = "leader"
	case m.Reachable == nil:
		// Only the leader knows; a follower's status leaves it out.
	case !*m.Reachable:
		mv.Contact = "unreachable"
		if !m.LastContact.IsZero() {
			mv.LastContactMs = max(now.Sub(m.LastContact).Milliseconds(), 1)
		}
	default:
		mv.Contact = "ok"
	}
	return mv
}

// why says a history reason in plain words.
func why(r fsm.Reason) string {
	switch r {
	case fsm.ReasonBootstrap:
		return "first leader of a new cluster"
	case fsm.ReasonElection:
		return "election: the previous leader was lost or cut off"
	case fsm.ReasonTransfer:
		return "transfer by an operator"
	case fsm.ReasonLeave:
		return "the leader left the cluster"
	case fsm.ReasonHealth:
		return "health handover: the leader's checks failed"
	case fsm.ReasonPreempt:
		return "preemption by a node of higher priority"
	case fsm.ReasonShutdown:
		return "graceful stop of the leader"
	}
	return string(r)
}
