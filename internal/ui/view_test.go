package ui

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

var now = time.UnixMilli(1764000100000)

// threeNodes is n2's status in a healthy cluster led by n1, which holds the VIP.
func threeNodes() cluster.Status {
	healthy := fsm.Health{Reported: true, Healthy: true, Priority: 100}
	return cluster.Status{
		ID: "n2", State: cluster.RoleFollower, Term: 7, LeaderID: "n1",
		VIPs:        []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24")}},
		Owner:       fsm.Owner{Node: "n1", Term: 7},
		LastContact: now.Add(-80 * time.Millisecond),
		Members: []cluster.Member{
			{ID: "n1", RaftAddr: "192.0.2.11:7000", Suffrage: "voter", Leader: true, Health: healthy},
			{ID: "n2", RaftAddr: "192.0.2.12:7000", Suffrage: "voter", Health: healthy},
			{ID: "n3", RaftAddr: "192.0.2.13:7000", Suffrage: "voter",
				Health: fsm.Health{Reported: true, Fault: `check "web": exit status 1`, Priority: 50}},
		},
		History: []fsm.Change{
			{At: 1764000000000, To: "n1", Term: 2, Reason: fsm.ReasonBootstrap},
			{At: 1764000050000, From: "n1", To: "n3", Term: 5, Takeover: 420, Reason: fsm.ReasonElection},
			{At: 1764000090000, From: "n3", To: "n1", Term: 7, Takeover: 30, Reason: fsm.ReasonHealth},
		},
	}
}

func TestViewOfAHealthyCluster(t *testing.T) {
	v := buildView(threeNodes(), now, DefaultStaleAfter)
	if v.Contact != "ok" || v.Holder != "n1" || !strings.Contains(v.HolderText, "held by n1") || v.Degraded != "" {
		t.Fatalf("view = %+v, want n1 holding, contact ok, not degraded", v)
	}
	if v.LastContactMs != 80 {
		t.Errorf("last contact = %d ms, want 80", v.LastContactMs)
	}
	roles := map[string]MemberView{}
	for _, m := range v.Members {
		roles[m.ID] = m
	}
	if m := roles["n1"]; m.Role != "leader" || !m.Holds || m.Health != "healthy" || m.Contact != "leader" {
		t.Errorf("n1 = %+v", m)
	}
	if m := roles["n3"]; m.Role != "follower" || m.Holds || m.Health != "failing" || !strings.Contains(m.Fault, "web") || m.Priority != 50 {
		t.Errorf("n3 = %+v", m)
	}
	if m := roles["n2"]; m.Contact != "self" {
		t.Errorf("n2 = %+v, want itself", m)
	}
	if len(v.History) != 3 || v.History[0].Term != 7 || v.History[2].Reason != "bootstrap" ||
		!strings.Contains(v.History[0].Why, "health") || v.History[1].Takeover != 420 {
		t.Errorf("history = %+v, want newest first with reasons in words", v.History)
	}
}

// TestViewSaysWhenContactIsLost: a node that knows no leader, or last heard
// from it long ago, says so in plain words, and names no holder.
func TestViewSaysWhenContactIsLost(t *testing.T) {
	st := threeNodes()
	st.LeaderID, st.State = "", cluster.RoleCandidate
	v := buildView(st, now, DefaultStaleAfter)
	if v.Contact != "no-leader" || v.Holder != "" || !strings.Contains(v.HolderText, "no leader") ||
		!strings.Contains(v.ContactText, "lost contact") {
		t.Errorf("without a leader: %+v", v)
	}

	st = threeNodes()
	st.LastContact = now.Add(-10 * time.Second)
	v = buildView(st, now, DefaultStaleAfter)
	if v.Contact != "stale" || !strings.Contains(v.ContactText, "10s ago") {
		t.Errorf("with an old contact: %+v", v)
	}

	st = threeNodes()
	st.Term = 8 // elected, claim not committed yet
	st.LeaderID = "n3"
	if v := buildView(st, now, DefaultStaleAfter); v.Holder != "" || !strings.Contains(v.HolderText, "claiming") {
		t.Errorf("before the claim: %+v", v)
	}
}

// TestViewDegraded: the leader says it is degraded; a follower infers it
// from the holder's failing report.
func TestViewDegraded(t *testing.T) {
	st := threeNodes()
	st.Members[0].Health.Healthy, st.Members[0].Health.Fault = false, "check web failing"
	if v := buildView(st, now, DefaultStaleAfter); !strings.Contains(v.Degraded, "n1 holds the VIPs although") {
		t.Errorf("follower's view = %q, want DEGRADED inferred", v.Degraded)
	}
	st.ID, st.State, st.Degraded = "n1", cluster.RoleLeader, "no healthy voter"
	// The leader's status says which members its heartbeats reach.
	reach, lost := true, false
	st.Members[0].Reachable, st.Members[1].Reachable = &reach, &reach
	st.Members[2].Reachable, st.Members[2].LastContact = &lost, now.Add(-3*time.Second)
	v := buildView(st, now, DefaultStaleAfter)
	if v.Degraded != "no healthy voter" {
		t.Errorf("leader's view = %+v", v)
	}
	contacts := map[string]MemberView{}
	for _, m := range v.Members {
		contacts[m.ID] = m
	}
	if m := contacts["n3"]; m.Contact != "unreachable" || m.LastContactMs != 3000 {
		t.Errorf("n3 on the leader = %+v, want unreachable, last heard 3000 ms ago", m)
	}
	if m := contacts["n2"]; m.Contact != "ok" || m.LastContactMs != 0 {
		t.Errorf("n2 on the leader = %+v, want reachable", m)
	}
}

// TestViewOfAFollowerLeavesReachOut: a follower's status does not know
// whether the leader reaches the other members, and the page claims nothing.
func TestViewOfAFollowerLeavesReachOut(t *testing.T) {
	for _, m := range buildView(threeNodes(), now, DefaultStaleAfter).Members {
		if m.ID == "n3" && (m.Contact != "" || m.LastContactMs != 0) {
			t.Errorf("n3 on a follower = %+v, want no contact claimed", m)
		}
	}
}

// TestViewNamesAWitness: a witness is shown as one, also while it leads.
func TestViewNamesAWitness(t *testing.T) {
	st := threeNodes()
	st.Members[2].Role = "witness"
	v := buildView(st, now, DefaultStaleAfter)
	if m := v.Members[2]; m.Role != "witness" {
		t.Errorf("n3, a witness, shown as %q", m.Role)
	}
	st.Members[0].Leader, st.Members[2].Leader = false, true
	v = buildView(st, now, DefaultStaleAfter)
	if m := v.Members[2]; m.Role != "witness, leading" {
		t.Errorf("n3, a leading witness, shown as %q", m.Role)
	}
}
