// Package testutil holds what the tests of several packages share: waiting
// for a condition with a deadline rather than sleeping a fixed time, which
// a busy machine turns into a flaky test.
package testutil

import (
	"fmt"
	"testing"
	"time"
)

// WaitLimit is a generous bound for a condition that normally holds within
// milliseconds: a shared machine can stall a test for seconds.
const WaitLimit = 15 * time.Second

// Poll checks cond until it holds or timeout passes, at first every
// millisecond, then less often (up to every 20 ms) so that a long wait does
// not load the machine. It returns an error if cond never held.
func Poll(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	every := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		time.Sleep(every)
		every = min(2*every, 20*time.Millisecond)
	}
	return nil
}

// Eventually waits (Poll) until cond holds, and fails t, naming what, if it
// does not within timeout. Like t.Fatal, it must run on the test's goroutine.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
