package health

import (
	"slices"
	"time"
)

// Report is the node's health: what the API serves and what OnChange gets.
type Report struct {
	// Healthy is true when no check is failing. A pending check does not
	// make the node unhealthy; Pending tells it apart.
	Healthy bool `json:"healthy"`
	// Pending is true while some check has no result yet.
	Pending bool `json:"pending"`
	// Failing names the failing checks, in config order.
	Failing []string      `json:"failing"`
	Checks  []CheckStatus `json:"checks"`
}

// CheckStatus is one check's state.
type CheckStatus struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Healthy   bool   `json:"healthy"`
	Pending   bool   `json:"pending"`
	LastError string `json:"last_error,omitempty"` // of the last probe; empty after a success
	// LastRun is when the last probe finished; zero before the first.
	LastRun time.Time `json:"last_run,omitzero"`
	// Successes and Failures count the current run of equal results: one of
	// them is always zero.
	Successes int `json:"successes"`
	Failures  int `json:"failures"`
}

// summarize builds the node's report from its checks' states. With no
// checks at all the node is healthy and not pending.
func summarize(checks []CheckStatus) Report {
	r := Report{Healthy: true, Failing: []string{}, Checks: checks}
	if r.Checks == nil {
		r.Checks = []CheckStatus{}
	}
	for _, c := range checks {
		switch {
		case c.Pending:
			r.Pending = true
		case !c.Healthy:
			r.Healthy = false
			r.Failing = append(r.Failing, c.Name)
		}
	}
	return r
}

// sameVerdict reports whether a and b agree on what OnChange is about.
func sameVerdict(a, b Report) bool {
	return a.Healthy == b.Healthy && a.Pending == b.Pending && slices.Equal(a.Failing, b.Failing)
}
