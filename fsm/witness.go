package fsm

// A witness is a member that votes in Raft elections but never holds the
// VIPs: the third voter of a pair of VIP hosts, on any host that reaches
// their Raft and API ports. It says so with every health report
// (SetWitnessHealth), so the whole cluster knows it and never hands the VIPs
// to it. Entries and snapshots from before witnesses existed carry no flag
// and decode as VIP-capable members, as they were.

// Member roles as Status and the CLI show them.
const (
	// RoleVoter may hold the VIPs.
	RoleVoter = "voter"
	// RoleWitness votes but never holds them.
	RoleWitness = "witness"
)

// SetWitnessHealth is SetHealth for a member that reports itself a witness.
func SetWitnessHealth(id string, healthy bool, fault string, priority int) Command {
	c := SetHealth(id, healthy, fault, priority)
	c.Witness = true
	return c
}

// withRole records the role c reports in m. A health report always carries
// the reporter's current role: a node restarted without -witness becomes a
// VIP-capable voter again with its next report.
func withRole(m Member, c Command) Member {
	m.Witness = c.Witness
	return m
}

// Role is m's role: RoleWitness or RoleVoter.
func (m Member) Role() string {
	if m.Witness {
		return RoleWitness
	}
	return RoleVoter
}

// IsWitness reports whether member id reported itself a witness.
func (s State) IsWitness(id string) bool { return s.Members[id].Witness }
