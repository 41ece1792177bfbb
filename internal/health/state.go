package health

// verdict is what the rise/fall rule currently says about a check.
type verdict int

const (
	pending verdict = iota // no result yet
	healthy
	failing
)

func (v verdict) String() string {
	switch v {
	case healthy:
		return "healthy"
	case failing:
		return "failing"
	default:
		return "pending"
	}
}

// streak is a check's rise/fall state: its verdict and how many consecutive
// successes or failures it has seen (one of the two is always zero).
type streak struct {
	verdict   verdict
	successes int
	failures  int
}

// observe returns the state after one probe result. The first result sets
// the verdict directly, so a fresh node is usable after one interval rather
// than rise intervals; after that a healthy check turns failing after fall
// consecutive failures and a failing one healthy after rise consecutive
// successes.
func (s streak) observe(ok bool, rise, fall int) streak {
	if ok {
		s.successes, s.failures = s.successes+1, 0
	} else {
		s.successes, s.failures = 0, s.failures+1
	}
	switch {
	case s.verdict == pending && ok:
		s.verdict = healthy
	case s.verdict == pending:
		s.verdict = failing
	case s.verdict == healthy && s.failures >= fall:
		s.verdict = failing
	case s.verdict == failing && s.successes >= rise:
		s.verdict = healthy
	}
	return s
}
