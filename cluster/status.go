package cluster

import (
	"errors"
	"maps"
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
	// Unreachable is set, on the leader only, for a member raft failed to
	// heartbeat and has not reached again since.
	Unreachable bool `json:"unreachable,omitempty"`
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
	// Degraded is set on a leader that keeps the VIPs although unhealthy,
	// because no other voter reports healthy; it says why.
	Degraded string `json:"degraded,omitempty"`
	// History is the replicated failover history, oldest first: the last
	// fsm.MaxHistory ownership changes, the same on every node.
	History []fsm.Change `json:"history"`
}

// unreachablePeers returns the peers the leader failed to heartbeat; nil
// unless state is Leader, since the observations are a leader's.
func (n *Node) unreachablePeers(state raft.RaftState) map[string]bool {
	if state != raft.Leader {
		return nil
	}
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	return maps.Clone(n.health.unreachable)
}
