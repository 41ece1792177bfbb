// Package fsm holds raftvip's replicated state: the VIP set, the node that owns it
// (with the Raft term of its claim) and the API address of each member.
//
// Everything here is pure and deterministic: no syscalls, clocks, goroutines or
// loggers. Apply runs on every node and again on log replay, so the same log must
// always produce the same state.
package fsm

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
)

// Errors returned by Apply and the validators. Callers branch on them with errors.Is.
var (
	ErrStaleClaim         = errors.New("stale claim")
	ErrNoSuchVIP          = errors.New("no such VIP")
	ErrUnknownCommand     = errors.New("unknown command")
	ErrUnsupportedVersion = errors.New("unsupported encoding version")
	// ErrMalformed: the bytes do not hold a well-formed command or snapshot
	// (undecodable, or a required field missing). Only these, never a rule of
	// what a value may be, are refused when a log entry is applied.
	ErrMalformed = errors.New("malformed command")
	// ErrInvalidVIP, ErrInvalidHealth and ErrInvalidHandover: a well-formed value this release
	// refuses to submit (rules.go).
	ErrInvalidVIP      = errors.New("invalid VIP")
	ErrInvalidHealth   = errors.New("invalid health report")
	ErrInvalidHandover = errors.New("invalid handover")
)

// DefaultLabel is the IPv4 address label suffix used when a VIP names none, so the
// address shows up as "<ifname>:vip" in `ip addr`.
const DefaultLabel = "vip"

// VIP is one virtual address the cluster keeps available.
type VIP struct {
	// Prefix is the address with the prefix length it is bound with.
	Prefix netip.Prefix `json:"prefix"`
	// Interface pins the VIP to a link name; empty means the link whose subnet
	// contains the address, chosen on each node.
	Interface string `json:"interface,omitempty"`
	// Label is the IPv4 label suffix ("<ifname>:<label>"); empty means DefaultLabel.
	Label string `json:"label,omitempty"`
}

// String returns the VIP's prefix, which is how operators name it.
func (v VIP) String() string { return v.Prefix.String() }

// Owner is the node that holds the VIPs and the Raft term in which its claim
// committed. A claim from an older term can never displace a newer one.
type Owner struct {
	Node string `json:"node"`
	Term uint64 `json:"term"`
	// Previous is the last other node that owned the VIPs, Since the owner's
	// wall clock when its claim committed (Unix ms) and Takeover how long the
	// cluster went without a holder before it (ms), as the claimant measured
	// it. For operators; the only decision that reads them is netops'
	// whether to probe the LAN before a first bind (an empty Previous: no
	// other node can have bound the VIPs).
	Previous string `json:"previous,omitempty"`
	Since    int64  `json:"since,omitempty"`
	Takeover int64  `json:"takeover_ms,omitempty"`
}

// Member is what the cluster knows of a node beyond Raft's own configuration.
type Member struct {
	APIAddr string `json:"api_addr"`
	// Health is what the node last reported of itself; zero until it has.
	Health Health `json:"health,omitzero"`
	// Witness is set for a member that votes but never holds the VIPs
	// (witness.go); absent in snapshots written before witnesses existed.
	Witness bool `json:"witness,omitempty"`
}

// Priority bounds, as keepalived's: a higher priority is preferred as leader.
const (
	MinPriority     = 1
	MaxPriority     = 255
	DefaultPriority = 100
)

// Health is a member's own report: whether its health checks pass, why not,
// and its priority. Reported is false until the member has reported.
type Health struct {
	Reported bool   `json:"reported"`
	Healthy  bool   `json:"healthy"`
	Fault    string `json:"fault,omitempty"`
	Priority int    `json:"priority"`
}

// State is the whole replicated state.
type State struct {
	VIPs    []VIP             `json:"vips"`
	Owner   Owner             `json:"owner"`
	Members map[string]Member `json:"members,omitempty"`
	// Seeded records that the bootstrap VIP set was applied once; later seeds are
	// ignored so that a restarted bootstrap node cannot undo API changes.
	Seeded bool `json:"seeded"`
	// History is the last MaxHistory ownership changes, oldest first
	// (history.go). Absent from snapshots written before it existed.
	History []Change `json:"history,omitempty"`
	// Handover is the last leader's recorded intent to hand over, until the
	// next claim in a newer term consumes it.
	Handover *Handover `json:"handover,omitempty"`
}

// Clone returns a deep copy, so readers never share slices with the FSM.
func (s State) Clone() State {
	c := s
	c.VIPs = slices.Clone(s.VIPs)
	c.Members = maps.Clone(s.Members)
	c.History = slices.Clone(s.History)
	if s.Handover != nil {
		h := *s.Handover
		c.Handover = &h
	}
	return c
}

// VIP returns the VIP with the given address.
func (s State) VIP(addr netip.Addr) (VIP, bool) {
	for _, v := range s.VIPs {
		if v.Prefix.Addr() == addr {
			return v, true
		}
	}
	return VIP{}, false
}

func sortVIPsByAddr(vs []VIP) {
	slices.SortFunc(vs, func(a, b VIP) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
}

// HeldBy reports whether node me must hold the VIPs: it is the Raft leader now,
// and its claim committed in the current term. A leader whose claim has not yet
// committed, or an owner that is no longer leader, holds nothing.
func (s State) HeldBy(me string, leader bool, term uint64) bool {
	return leader && me != "" && s.Owner.Node == me && s.Owner.Term == term
}
