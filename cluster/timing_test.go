package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestProfiles(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name string
		want Timing
	}{
		{"lan", Timing{200 * ms, 200 * ms, 150 * ms}},
		{"fast", Timing{100 * ms, 100 * ms, 75 * ms}},
		{"wan", Timing{1000 * ms, 1000 * ms, 750 * ms}},
		{DefaultProfile, Timing{200 * ms, 200 * ms, 150 * ms}},
	}
	for _, tt := range tests {
		got, err := Profile(tt.name)
		if err != nil || got != tt.want {
			t.Errorf("Profile(%q) = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("profile %q does not validate: %v", tt.name, err)
		}
		// Raft must not step down before the VIPs are dropped, nor later than
		// raft allows (LeaderLeaseTimeout <= HeartbeatTimeout).
		if rl := got.RaftLease(); rl < got.LeaderLease || rl > got.Heartbeat {
			t.Errorf("profile %q: raft lease %s outside [leader lease %s, heartbeat %s]", tt.name, rl, got.LeaderLease, got.Heartbeat)
		}
	}
	_, err := Profile("lightspeed")
	if err == nil || !strings.Contains(err.Error(), "lightspeed") || !strings.Contains(err.Error(), "fast, lan, wan") {
		t.Errorf("unknown profile = %v, want an error naming it and the valid ones", err)
	}
}

func TestTimingValidate(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name     string
		in       Timing
		ok       bool
		mentions []string
	}{
		{"test timing", testTiming(), true, nil},
		{"lease exactly at the margin", Timing{200 * ms, 200 * ms, 150 * ms}, true, nil},
		{"lease too close to heartbeat", Timing{200 * ms, 200 * ms, 160 * ms}, false,
			[]string{"heartbeat 200ms", "leader lease 160ms", "margin 50ms", "at most 150ms"}},
		{"raft's own maximum is still unsafe", Timing{1 * time.Second, time.Second, time.Second}, false,
			[]string{"leader lease 1s"}},
		{"margin floor of 10ms", Timing{20 * ms, 20 * ms, 15 * ms}, false, []string{"margin 10ms"}},
		{"election shorter than heartbeat", Timing{200 * ms, 100 * ms, 50 * ms}, false,
			[]string{"election 100ms", "heartbeat 200ms"}},
		{"too small", Timing{4 * ms, 4 * ms, 1 * ms}, false, []string{"5ms"}},
		{"zero", Timing{}, false, []string{"heartbeat 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.in.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate(%+v) = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidTiming) {
				t.Errorf("error %v does not wrap ErrInvalidTiming", err)
			}
			for _, m := range tt.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}
