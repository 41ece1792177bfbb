// Package fsm holds raftvip's replicated state: the VIP set, the node that owns it
// (with the Raft term of its claim) and the API address of each member.
//
// Everything here is pure and deterministic: no syscalls, clocks, goroutines or
// loggers. Apply runs on every node and again on log replay, so the same log must
// always produce the same state.
package fsm

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
)

// Errors returned by Apply and the validators. Callers branch on them with errors.Is.
var (
	ErrStaleClaim         = errors.New("stale claim")
	ErrNoSuchVIP          = errors.New("no such VIP")
	ErrInvalidVIP         = errors.New("invalid VIP")
	ErrUnknownCommand     = errors.New("unknown command")
	ErrUnsupportedVersion = errors.New("unsupported encoding version")
	ErrMalformed          = errors.New("malformed command")
)

// DefaultLabel is the IPv4 address label suffix used when a VIP names none, so the
// address shows up as "<ifname>:vip" in `ip addr`.
const DefaultLabel = "vip"

// maxLabel is the kernel's IFNAMSIZ-1: an IPv4 label, interface name included,
// longer than this is refused by the kernel.
const maxLabel = 15

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
	// it. For operators; no decision reads them.
	Previous string `json:"previous,omitempty"`
	Since    int64  `json:"since,omitempty"`
	Takeover int64  `json:"takeover_ms,omitempty"`
}

// Member is what the cluster knows of a node beyond Raft's own configuration.
type Member struct {
	APIAddr string `json:"api_addr"`
	// Health is what the node last reported of itself; zero until it has.
	Health Health `json:"health,omitzero"`
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
}

// Clone returns a deep copy, so readers never share slices with the FSM.
func (s State) Clone() State {
	c := s
	c.VIPs = slices.Clone(s.VIPs)
	c.Members = maps.Clone(s.Members)
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

// ValidateVIP reports why v cannot be a VIP, or nil.
func ValidateVIP(v VIP) error {
	p := v.Prefix
	if !p.IsValid() {
		return fmt.Errorf("%w: %q is not a CIDR", ErrInvalidVIP, p.String())
	}
	a := p.Addr()
	if a.Is4In6() {
		return fmt.Errorf("%w: %s: use the plain IPv4 form", ErrInvalidVIP, p)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%w: %s: zones are not allowed", ErrInvalidVIP, p)
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
		return fmt.Errorf("%w: %s is not a unicast host address", ErrInvalidVIP, p)
	}
	if a.Is4() && p.Bits() < 32 && a == lastAddr(p) {
		return fmt.Errorf("%w: %s is the broadcast address of its subnet", ErrInvalidVIP, p)
	}
	if p.Bits() < p.Addr().BitLen() && a == p.Masked().Addr() {
		return fmt.Errorf("%w: %s is the network address of its subnet", ErrInvalidVIP, p)
	}
	if len(v.Interface) > maxLabel {
		return fmt.Errorf("%w: interface name %q is longer than %d characters", ErrInvalidVIP, v.Interface, maxLabel)
	}
	if v.Label != "" {
		if a.Is6() {
			return fmt.Errorf("%w: %s: labels exist for IPv4 addresses only", ErrInvalidVIP, p)
		}
		if len(v.Label) > maxLabel-2 {
			return fmt.Errorf("%w: label %q is longer than %d characters", ErrInvalidVIP, v.Label, maxLabel-2)
		}
	}
	return nil
}

// ParseVIP parses "CIDR" and validates it.
func ParseVIP(s string) (VIP, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return VIP{}, fmt.Errorf("%w: %q is not a CIDR (want e.g. 192.0.2.100/24)", ErrInvalidVIP, s)
	}
	v := VIP{Prefix: p}
	return v, ValidateVIP(v)
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	for i := 3; i >= 0 && host > 0; i-- {
		n := min(host, 8)
		b[i] |= byte(1<<n - 1)
		host -= n
	}
	return netip.AddrFrom4(b)
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
