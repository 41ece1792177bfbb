package fsm

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// The rules in this file say what this release lets into the log: what a VIP
// may be, how long a fault text is, which priorities and node IDs exist. They
// run where a command is submitted (Command.Validate, called by Encode, and
// the API's request checks), never where an entry is applied or a snapshot
// restored. A later release may tighten or relax them; entries committed
// under other rules must still apply the same way on every replica, so
// Decode and DecodeSnapshot check only that the bytes are well formed.

// maxLabel is the kernel's IFNAMSIZ-1: an IPv4 label, interface name included,
// longer than this is refused by the kernel.
const maxLabel = 15

// MaxFault bounds the fault text of a health report: it is replicated and
// stored in every node's log.
const MaxFault = 512

// maxNodeID bounds node IDs: they appear in logs, headers and Raft's configuration.
const maxNodeID = 64

// Validate reports why this release refuses to submit c, naming the field, or
// nil. It includes the well-formedness Decode checks.
//
// Node IDs are not checked here: a member that joined under an older rule must
// still be able to claim, report and be removed. ValidateNodeID guards where
// an ID first enters the cluster (the agent's -id, the join request).
func (c Command) Validate() error {
	if err := c.wellFormed(); err != nil {
		return err
	}
	switch c.Type {
	case TypeAddVIP:
		return ValidateVIP(*c.VIP)
	case TypeSeedVIPs:
		for i, v := range c.VIPs {
			if err := ValidateVIP(v); err != nil {
				return fmt.Errorf("vips[%d]: %w", i, err)
			}
		}
	case TypeSetHealth:
		if c.Priority < MinPriority || c.Priority > MaxPriority {
			return fmt.Errorf("%w: priority %d is outside %d..%d", ErrInvalidHealth, c.Priority, MinPriority, MaxPriority)
		}
		return ValidateFault(c.Fault)
	case TypeHandover:
		if c.Reason == "" || len(c.Reason) > maxReason || !utf8.ValidString(string(c.Reason)) {
			return fmt.Errorf("%w: handover reason %q: want UTF-8 text of 1 to %d bytes", ErrInvalidHandover, c.Reason, maxReason)
		}
	}
	return nil
}

// ValidateVIP reports why v cannot be a VIP, naming the field, or nil.
func ValidateVIP(v VIP) error {
	p := v.Prefix
	if !p.IsValid() {
		return fmt.Errorf("%w: prefix %q is not a CIDR", ErrInvalidVIP, p.String())
	}
	a := p.Addr()
	if a.Is4In6() {
		return fmt.Errorf("%w: prefix %s: use the plain IPv4 form", ErrInvalidVIP, p)
	}
	if a.Zone() != "" {
		return fmt.Errorf("%w: prefix %s: zones are not allowed", ErrInvalidVIP, p)
	}
	if a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() {
		return fmt.Errorf("%w: prefix %s is not a unicast host address", ErrInvalidVIP, p)
	}
	if a.Is4() && p.Bits() < 32 && a == lastAddr(p) {
		return fmt.Errorf("%w: prefix %s is the broadcast address of its subnet", ErrInvalidVIP, p)
	}
	if p.Bits() < p.Addr().BitLen() && a == p.Masked().Addr() {
		return fmt.Errorf("%w: prefix %s is the network address of its subnet", ErrInvalidVIP, p)
	}
	if len(v.Interface) > maxLabel {
		return fmt.Errorf("%w: interface %q is longer than %d characters", ErrInvalidVIP, v.Interface, maxLabel)
	}
	if v.Label != "" {
		if a.Is6() {
			return fmt.Errorf("%w: label %q on %s: labels exist for IPv4 addresses only", ErrInvalidVIP, v.Label, p)
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
		return VIP{}, fmt.Errorf("%w: prefix %q is not a CIDR (want e.g. 192.0.2.100/24)", ErrInvalidVIP, s)
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

// ValidateFault reports why s cannot be the fault text of a health report:
// it must be UTF-8 of at most MaxFault bytes (TruncateFault makes it so).
func ValidateFault(s string) error {
	var what string
	switch {
	case len(s) > MaxFault:
		what = fmt.Sprintf("is %d bytes long", len(s))
	case !utf8.ValidString(s):
		what = "is not valid UTF-8"
	default:
		return nil
	}
	return fmt.Errorf("%w: fault %s: it must be UTF-8 text of at most %d bytes", ErrInvalidHealth, what, MaxFault)
}

// TruncateFault returns s as a fault text ValidateFault accepts: invalid
// UTF-8 replaced, and cut at a character boundary with "..." when too long,
// so that a long check output still says what it starts with.
func TruncateFault(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	if len(s) <= MaxFault {
		return s
	}
	const more = "..."
	cut := MaxFault - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// ValidateNodeID reports why id cannot be a node ID, naming it as field: IDs
// are 1-64 letters, digits, '.', '_' and '-', starting with a letter or digit
// (so never "." or ".."), safe in logs, headers and file names.
func ValidateNodeID(field, id string) error {
	if id == "" {
		return fmt.Errorf("%s is required", field)
	}
	if len(id) > maxNodeID {
		return fmt.Errorf("%s is %d characters long, at most %d allowed", field, len(id), maxNodeID)
	}
	for i, c := range id {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("%s %q must start with a letter or digit", field, id)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("%s %q contains %q: use letters, digits, '.', '_' and '-'", field, id, c)
		}
	}
	return nil
}
