package cluster

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestAdmitRaftConn(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	const stale = 3 * time.Second
	members := []raft.ServerAddress{"192.0.2.11:7000", "192.0.2.12:7000", "192.0.2.13:7000"}
	ip := netip.MustParseAddr
	tests := []struct {
		name    string
		remote  netip.Addr
		servers []raft.ServerAddress
		state   raft.RaftState
		contact time.Time
		want    bool
	}{
		{"leader, member", ip("192.0.2.12"), members, raft.Leader, time.Time{}, true},
		{"leader, stranger", ip("192.0.2.99"), members, raft.Leader, time.Time{}, false},
		{"leader, unparsable remote", netip.Addr{}, members, raft.Leader, time.Time{}, false},
		{"follower in contact, member", ip("192.0.2.11"), members, raft.Follower, now.Add(-time.Second), true},
		{"follower in contact, stranger", ip("192.0.2.99"), members, raft.Follower, now.Add(-time.Second), false},
		{"follower at the stale bound, stranger", ip("192.0.2.99"), members, raft.Follower, now.Add(-stale), false},
		{"follower past the stale bound, stranger", ip("192.0.2.99"), members, raft.Follower, now.Add(-stale - time.Millisecond), true},
		{"follower that never heard a leader", ip("192.0.2.99"), members, raft.Follower, time.Time{}, true},
		{"candidate, stranger", ip("192.0.2.99"), members, raft.Candidate, now, true},
		// n3 was down while n4 joined from 192.0.2.14 and took the lead: n3's
		// configuration does not list n4, and only n4 can send it the entry
		// that does.
		{"stale config: restarted follower, new leader", ip("192.0.2.14"), members, raft.Follower, time.Time{}, true},
		{"stale config: candidate, new leader", ip("192.0.2.14"), members, raft.Candidate, now.Add(-time.Second), true},
		{"stale config: follower still in contact", ip("192.0.2.14"), members, raft.Follower, now.Add(-time.Second), false},
		{"shut down, stranger", ip("192.0.2.99"), members, raft.Shutdown, time.Time{}, false},
		{"empty configuration", ip("192.0.2.99"), nil, raft.Follower, now, true},
		{"a member named by host name", ip("192.0.2.99"), []raft.ServerAddress{"192.0.2.11:7000", "n2.example:7000"}, raft.Leader, now, true},
		{"IPv4-mapped remote", ip("::ffff:192.0.2.13"), members, raft.Leader, now, true},
		{"IPv6 member", ip("2001:db8::12"), []raft.ServerAddress{"[2001:db8::11]:7000", "[2001:db8::12]:7000"}, raft.Leader, now, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := admitRaftConn(tt.remote, tt.servers, tt.state, tt.contact, now, stale); got != tt.want {
				t.Errorf("admitRaftConn(%v, %s, contact %s ago) = %v, want %v",
					tt.remote, tt.state, now.Sub(tt.contact), got, tt.want)
			}
		})
	}
}

func TestRefusalLog(t *testing.T) {
	t.Parallel()
	var l refusalLog
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("192.0.2.98"), netip.MustParseAddr("192.0.2.99")
	steps := []struct {
		ip             netip.Addr
		at             time.Duration
		log            bool
		wantSuppressed int
	}{
		{a, 0, true, 0},
		{a, time.Second, false, 0},
		{b, time.Second, true, 0}, // another host has its own minute
		{a, 30 * time.Second, false, 0},
		{a, 59 * time.Second, false, 0},
		{a, 60 * time.Second, true, 3},
		{b, 61 * time.Second, true, 0},
		{a, 61 * time.Second, false, 0},
	}
	for i, s := range steps {
		log, suppressed := l.note(s.ip, t0.Add(s.at))
		if log != s.log || suppressed != s.wantSuppressed {
			t.Errorf("step %d (%v at %s): log %v with %d suppressed, want %v with %d",
				i, s.ip, s.at, log, suppressed, s.log, s.wantSuppressed)
		}
	}
}

// TestRefusalLogBounded: a flood from more hosts than refusalLogHosts logs
// one line per host up to the bound, then one for all the others, per minute.
func TestRefusalLogBounded(t *testing.T) {
	t.Parallel()
	var l refusalLog
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	prefix := netip.MustParsePrefix("2001:db8::/64")
	logged := 0
	for i := range 3 * refusalLogHosts {
		b := prefix.Addr().As16()
		b[14], b[15] = byte(i>>8), byte(i)
		if ok, _ := l.note(netip.AddrFrom16(b), t0.Add(time.Duration(i)*time.Millisecond)); ok {
			logged++
		}
	}
	if logged != refusalLogHosts+1 {
		t.Errorf("%d hosts refused within a minute: %d lines, want %d", 3*refusalLogHosts, logged, refusalLogHosts+1)
	}
	if len(l.seen) > refusalLogHosts+1 {
		t.Errorf("%d entries kept, want at most %d", len(l.seen), refusalLogHosts+1)
	}
	// A minute on, old hosts make room again and the others' count is told.
	ok, suppressed := l.note(netip.MustParseAddr("192.0.2.99"), t0.Add(2*time.Minute))
	if !ok || suppressed != 0 {
		t.Errorf("new host a minute on: log %v, %d suppressed; want a line", ok, suppressed)
	}
	ok, suppressed = l.note(netip.Addr{}, t0.Add(2*time.Minute))
	if !ok || suppressed != 2*refusalLogHosts-1 {
		t.Errorf("the others a minute on: log %v, %d suppressed; want a line with %d", ok, suppressed, 2*refusalLogHosts-1)
	}
}
