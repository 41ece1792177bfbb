package cluster

import (
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// Errors callers branch on with errors.Is.
var (
	// ErrNotLeader: the operation needs the leader; Status().LeaderAPIAddr says
	// where it is, when known.
	ErrNotLeader = errors.New("not the leader")
	// ErrNoLeader: no leader is known right now (election in progress or no quorum).
	ErrNoLeader = errors.New("no leader")
	// ErrUnknownMember: the named node is not in the Raft configuration.
	ErrUnknownMember = errors.New("unknown member")
	// ErrInvalidTiming: the Raft timings are unsafe for VIP ownership.
	ErrInvalidTiming = errors.New("unsafe timing")
)

// Role is a node's Raft role, as Status reports it. Its values are
// raft.RaftState's names, which /v1/status has always shown.
type Role string

// The Raft roles.
const (
	RoleLeader    Role = "Leader"
	RoleFollower  Role = "Follower"
	RoleCandidate Role = "Candidate"
	RoleShutdown  Role = "Shutdown"
)

// RoleOf returns the role of a node in raft state s.
func RoleOf(s raft.RaftState) Role {
	switch s {
	case raft.Leader:
		return RoleLeader
	case raft.Follower:
		return RoleFollower
	case raft.Candidate:
		return RoleCandidate
	case raft.Shutdown:
		return RoleShutdown
	}
	// A state raft adds later keeps its own name rather than posing as one
	// of these.
	return Role(s.String())
}

// Member is one server in the Raft configuration, with what the FSM knows of it.
type Member struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr,omitempty"`
	Suffrage string `json:"suffrage"` // "voter", "nonvoter", "staging"
	Leader   bool   `json:"leader"`
	// Health is what the member last reported through the log.
	Health fsm.Health `json:"health,omitzero"`
	// Role is "voter" (may hold the VIPs) or "witness" (votes, never holds
	// them), as the member last reported it.
	Role string `json:"role"`
	// Links are the names of the member's interfaces as it last reported
	// them with its health, sorted; absent until it has, from a witness, and
	// from a release that does not report them (fsm.Member.Links).
	Links []string `json:"links,omitempty"`
	// Reachable is whether the leader's heartbeats reach the member, as
	// the leader sees it; absent (unknown) in a follower's status. An
	// unreachable member's Health is its last report, not its state now.
	Reachable *bool `json:"reachable,omitempty"`
	// LastContact is when the leader last heard from an unreachable member
	// (absent when reachable or unknown).
	LastContact time.Time `json:"last_contact,omitzero"`
}

// AddressConflict is a VIP this node should serve but does not, or serves
// contested: one of its links already has the address, not added by raftvip
// (the node's own address, or one an operator added), or another host on the
// LAN answers for it or announces it.
type AddressConflict struct {
	VIP string `json:"vip"`
	// Address is the address in the way, and Link its link.
	Address string `json:"address,omitempty"`
	Link    string `json:"link"`
	// MAC is another host's on the LAN that answered for the VIP (not bound)
	// or, with Held, announces the VIP this node holds.
	MAC  string `json:"mac,omitempty"`
	Held bool   `json:"held,omitempty"`
	// Text says it in one line, for people.
	Text string `json:"text"`
}

// Status is a point-in-time view of one node, for the API and the CLI.
type Status struct {
	ID    string `json:"id"`
	State Role   `json:"state"`
	Term  uint64 `json:"term"`

	LeaderID       string `json:"leader_id,omitempty"`
	LeaderRaftAddr string `json:"leader_raft_addr,omitempty"`
	LeaderAPIAddr  string `json:"leader_api_addr,omitempty"`

	// Holder is true on the one node that must hold the VIPs: leader with a
	// committed claim in the current term (fsm.State.HeldBy).
	Holder bool `json:"holder"`

	Members []Member  `json:"members"`
	VIPs    []fsm.VIP `json:"vips"`
	Owner   fsm.Owner `json:"owner"`

	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	LastIndex    uint64 `json:"last_index"`
	// LastContact is when this node last heard from the leader (zero on the
	// leader itself, and before any contact).
	LastContact time.Time `json:"last_contact,omitzero"`

	// Priority is this node's configured priority.
	Priority int `json:"priority"`
	// RaftAddr is the Raft address peers dial to reach this node.
	RaftAddr string `json:"raft_addr,omitempty"`
	// HasState is true once the node holds Raft state: it is (or was) a
	// member of a cluster. A node waiting to bootstrap or to be joined has
	// none; a node that asks before it bootstraps (cluster.PlanStart) joins
	// any node that has.
	HasState bool `json:"has_state"`
	// BootstrapExpect is the node's -bootstrap-expect while it has no state
	// and waits for the cluster to form; 0 otherwise.
	BootstrapExpect int `json:"bootstrap_expect,omitempty"`

	// Degraded is set on a leader that keeps the VIPs although unhealthy,
	// because no other voter reports healthy; it says why.
	Degraded string `json:"degraded,omitempty"`
	// Witness is set on a node that votes but never holds the VIPs.
	Witness bool `json:"witness,omitempty"`
	// Removed is set on a node that runs but is no longer in the cluster's
	// Raft configuration (raftvip leave): it has no leader and never will.
	Removed bool `json:"removed,omitempty"`
	// Conflicts are the VIPs this node cannot bind for an address in the
	// way (filled by the API from the reconciler; the cluster does not know).
	Conflicts []AddressConflict `json:"conflicts,omitempty"`
	// History is the replicated failover history, oldest first: the last
	// fsm.MaxHistory ownership changes, the same on every node.
	History []fsm.Change `json:"history"`
}

// addReach adds to s what this node knows of its members' reachability:
// the leader's heartbeat view (unreachablePeers, the same source succession
// passes unreachable voters over by) on the leader, nothing elsewhere. It
// also marks a node that is no longer among its members as removed.
func (n *Node) addReach(s *Status, leader bool) {
	ids := make([]string, len(s.Members))
	for i, m := range s.Members {
		ids[i] = m.ID
	}
	_, recorded := n.fsm.Members()[s.ID]
	s.Removed = removedFrom(ids, s.ID, recorded)
	if !leader {
		return
	}
	down := n.unreachablePeers()
	for i := range s.Members {
		m := &s.Members[i]
		heard, isDown := down[m.ID]
		reach := !isDown
		m.Reachable = &reach
		if isDown {
			m.LastContact = heard
		}
	}
}

// removedFrom reports whether self, a member it knows it was (recorded in
// its FSM), is missing from a configuration of members ids. The
// configuration change that removed a node is the last entry the leader
// sends it, so raft shows it the configuration without it. A node being
// joined has a configuration without itself too while it replays the log,
// but its FSM records it only after the entry that added it.
func removedFrom(ids []string, self string, recorded bool) bool {
	return recorded && len(ids) > 0 && !slices.Contains(ids, self)
}

// noteRemoved logs once when this node finds itself out of the cluster's
// configuration, and once when it is let back in; was is the last answer.
func (n *Node) noteRemoved(was bool) bool {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return was
	}
	var ids []string
	for _, sv := range cf.Configuration().Servers {
		ids = append(ids, string(sv.ID))
	}
	_, recorded := n.fsm.Members()[n.cfg.ID]
	now := removedFrom(ids, n.cfg.ID, recorded)
	switch {
	case now && !was:
		n.log.Warn("removed from the cluster: this node is no longer in the Raft configuration and holds no VIPs; " +
			"stop it, or join it again (raftvip join on the leader)")
	case was && !now:
		n.log.Info("back in the cluster's Raft configuration")
	}
	return now
}
