package cluster

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestAdmitRaftConn(t *testing.T) {
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
