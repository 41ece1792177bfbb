package testutil

import (
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	calls := 0
	if err := Poll(time.Minute, func() bool { calls++; return calls == 3 }); err != nil || calls != 3 {
		t.Errorf("Poll = %v after %d calls, want nil after 3", err, calls)
	}
	if err := Poll(5*time.Millisecond, func() bool { return false }); err == nil {
		t.Error("Poll of a condition that never holds = nil")
	}
}
