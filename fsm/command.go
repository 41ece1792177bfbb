package fsm

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// Version is the encoding version written by this build. Every command starts
// with it so that a future format can be told apart from this one in old logs.
const Version byte = 1

// Type names a command.
type Type byte

// Command types. Values are stored in the Raft log: never renumber them.
const (
	TypeClaim        Type = 1
	TypeAddVIP       Type = 2
	TypeRemoveVIP    Type = 3
	TypeSeedVIPs     Type = 4
	TypeSetMember    Type = 5
	TypeRemoveMember Type = 6
	TypeSetHealth    Type = 7
	// TypeHandover is newer than the others: a release that predates it
	// skips it as an unknown command (docs/operations.md, "Upgrading").
	TypeHandover Type = 8
)

func (t Type) String() string {
	switch t {
	case TypeClaim:
		return "claim"
	case TypeAddVIP:
		return "add-vip"
	case TypeRemoveVIP:
		return "remove-vip"
	case TypeSeedVIPs:
		return "seed-vips"
	case TypeSetMember:
		return "set-member"
	case TypeRemoveMember:
		return "remove-member"
	case TypeSetHealth:
		return "set-health"
	case TypeHandover:
		return "handover"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// Command is one change to State. Exactly one of the payload fields matters,
// chosen by Type.
type Command struct {
	Type Type `json:"-"`
	// Claim: the node claiming ownership and the term it claims in.
	Node string `json:"node,omitempty"`
	Term uint64 `json:"term,omitempty"`
	// Claim, optional: the claimant's wall clock at the commit (Unix ms; for
	// Handover the leader's wall clock when it submits it) and
	// how long the cluster went without a holder before it, as the claimant
	// measured it. Data for operators only: no decision reads them.
	At       int64 `json:"at,omitempty"`
	Takeover int64 `json:"takeover_ms,omitempty"`
	// AddVIP.
	VIP *VIP `json:"vip,omitempty"`
	// RemoveVIP.
	Addr netip.Addr `json:"addr,omitzero"`
	// SeedVIPs.
	VIPs []VIP `json:"vips,omitempty"`
	// SetMember and RemoveMember use Node as the member ID.
	APIAddr string `json:"api_addr,omitempty"`
	// SetHealth uses Node as the member ID.
	Healthy  bool   `json:"healthy,omitempty"`
	Fault    string `json:"fault,omitempty"`
	Priority int    `json:"priority,omitempty"`
	// SetHealth, optional: the member is a witness (witness.go). Absent in
	// entries written before witnesses existed, which so apply as before.
	Witness bool `json:"witness,omitempty"`
	// Handover uses Node as the leader handing over, At, and these: the
	// chosen successor ("" lets raft pick) and why.
	To     string `json:"to,omitempty"`
	Reason Reason `json:"reason,omitempty"`
}

// Claim returns the command by which a leader takes ownership in its term.
func Claim(node string, term uint64) Command {
	return Command{Type: TypeClaim, Node: node, Term: term}
}

// AddVIP returns the command that adds v, or replaces the VIP with its address.
func AddVIP(v VIP) Command { return Command{Type: TypeAddVIP, VIP: &v} }

// RemoveVIP returns the command that removes the VIP with address a.
func RemoveVIP(a netip.Addr) Command { return Command{Type: TypeRemoveVIP, Addr: a} }

// SeedVIPs returns the command that sets the initial VIP set, once per cluster.
func SeedVIPs(vs []VIP) Command { return Command{Type: TypeSeedVIPs, VIPs: vs} }

// SetMember returns the command that records a member's API address.
func SetMember(id, apiAddr string) Command {
	return Command{Type: TypeSetMember, Node: id, APIAddr: apiAddr}
}

// SetHealth returns the command that records what node id last reported of
// itself: whether its health checks pass (fault says why not) and its priority.
func SetHealth(id string, healthy bool, fault string, priority int) Command {
	return Command{Type: TypeSetHealth, Node: id, Healthy: healthy, Fault: fault, Priority: priority}
}

// RemoveMember returns the command that forgets a member.
func RemoveMember(id string) Command { return Command{Type: TypeRemoveMember, Node: id} }

// Encode returns the log form: version byte, type byte, JSON payload. It
// refuses a command this release would not submit (Validate): Encode is the
// write path, so the rules apply where a command enters the log.
func (c Command) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c.encode()
}

// encode writes c without the submission rules, only refusing what Decode
// would not read back.
func (c Command) encode() ([]byte, error) {
	if err := c.wellFormed(); err != nil {
		return nil, err
	}
	body, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", c.Type, err)
	}
	return append([]byte{Version, byte(c.Type)}, body...), nil
}

// Decode parses the log form written by Encode. It never panics on bad input.
//
// It checks only that the entry is well formed, not the rules of rules.go:
// the entry may have been written by a release with other rules, and every
// replica must apply it the same way whatever release it runs.
func Decode(b []byte) (Command, error) {
	if len(b) < 2 {
		return Command{}, fmt.Errorf("%w: %d bytes, want at least 2", ErrMalformed, len(b))
	}
	if b[0] != Version {
		return Command{}, fmt.Errorf("%w: %d (this build reads %d)", ErrUnsupportedVersion, b[0], Version)
	}
	var c Command
	if err := json.Unmarshal(b[2:], &c); err != nil {
		return Command{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.Type = Type(b[1])
	if err := c.wellFormed(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// wellFormed checks that c.Type is known and that the payload it needs is
// there: what Next must be able to rely on, and nothing more.
func (c Command) wellFormed() error {
	switch c.Type {
	case TypeClaim:
		if c.Node == "" || c.Term == 0 {
			return fmt.Errorf("%w: claim needs a node and a term > 0", ErrMalformed)
		}
	case TypeAddVIP:
		if c.VIP == nil || !c.VIP.Prefix.IsValid() {
			return fmt.Errorf("%w: add-vip without a VIP prefix", ErrMalformed)
		}
	case TypeRemoveVIP:
		if !c.Addr.IsValid() {
			return fmt.Errorf("%w: remove-vip without an address", ErrMalformed)
		}
	case TypeSeedVIPs:
		for i, v := range c.VIPs {
			if !v.Prefix.IsValid() {
				return fmt.Errorf("%w: seed-vips: vips[%d] has no prefix", ErrMalformed, i)
			}
		}
	case TypeSetMember:
		if c.Node == "" || c.APIAddr == "" {
			return fmt.Errorf("%w: set-member needs an id and an API address", ErrMalformed)
		}
	case TypeRemoveMember:
		if c.Node == "" {
			return fmt.Errorf("%w: remove-member needs an id", ErrMalformed)
		}
	case TypeSetHealth:
		if c.Node == "" {
			return fmt.Errorf("%w: set-health needs an id", ErrMalformed)
		}
	case TypeHandover:
		if c.Node == "" {
			return fmt.Errorf("%w: handover needs the leader's id", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: %s", ErrUnknownCommand, c.Type)
	}
	return nil
}
