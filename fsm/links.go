package fsm

import (
	"fmt"
	"slices"
	"unicode"
)

// A member reports the names of its links with its health (SetHealth with
// WithLinks), so that the leader can refuse a VIP pinned to an interface the
// VIP-capable members lack before it enters the log, rather than the holder
// failing to bind it later. Entries and snapshots from before links were
// reported carry none: such a member counts as "not reported", as does a
// witness, which has no links to offer.

// MaxLinks bounds the link names of one health report: they are replicated
// and stored in every node's log. A host with more reports none
// (see the agent), and is then not checked.
const MaxLinks = 256

// WithLinks returns the health report c carrying links, the names of the
// reporter's interfaces. Nil or empty means "not reported".
func (c Command) WithLinks(links []string) Command {
	c.Links = links
	return c
}

// withLinks records the links c reports in m. Every report replaces the
// list: one without links (an older release after a downgrade, a witness)
// leaves the member unchecked, never holding an old list against it. The
// slice is replaced, never modified in place, so states may share it.
func withLinks(m Member, c Command) Member {
	m.Links = c.Links
	return m
}

// ReportedLinks reports whether m has told the cluster its links.
func (m Member) ReportedLinks() bool { return len(m.Links) > 0 }

// HasLink reports whether m reported a link named name.
func (m Member) HasLink(name string) bool { return slices.Contains(m.Links, name) }

// ValidateLinkName reports why name cannot be a Linux interface name, or nil.
// The rule is the kernel's dev_valid_name (net/core/dev.c): 1 to 15 bytes
// (IFNAMSIZ-1), not "." or "..", and no '/', ':' or whitespace.
func ValidateLinkName(name string) error {
	var what string
	switch {
	case name == "":
		what = "is empty"
	case len(name) > maxLabel:
		what = fmt.Sprintf("is longer than %d characters", maxLabel)
	case name == "." || name == "..":
		what = "is not a name"
	}
	for _, r := range name {
		if what != "" {
			break
		}
		if r == '/' || r == ':' || unicode.IsSpace(r) {
			what = fmt.Sprintf("contains %q", r)
		}
	}
	if what == "" {
		return nil
	}
	return fmt.Errorf("interface %q %s: Linux interface names are 1-%d bytes without '/', ':' or spaces",
		name, what, maxLabel)
}

// validateLinks is the submission rule for the links of a health report.
func validateLinks(links []string) error {
	if len(links) > MaxLinks {
		return fmt.Errorf("%w: %d links, at most %d", ErrInvalidHealth, len(links), MaxLinks)
	}
	for _, l := range links {
		if err := ValidateLinkName(l); err != nil {
			return fmt.Errorf("%w: links: %w", ErrInvalidHealth, err)
		}
	}
	return nil
}
