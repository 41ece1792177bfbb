package cluster

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

func TestConflictingMember(t *testing.T) {
	conf := raft.Configuration{Servers: []raft.Server{
		{ID: "n1", Address: "192.0.2.11:7000", Suffrage: raft.Voter},
		{ID: "n2", Address: "[2001:db8::12]:7000", Suffrage: raft.Voter},
		{ID: "n3", Address: "raft-n3.example:7000", Suffrage: raft.Voter},
	}}
	members := map[string]fsm.Member{
		"n1": {APIAddr: "192.0.2.11:8080"},
		"n3": {APIAddr: "192.0.2.33:8080"},
	}
	tests := []struct {
		vip  string
		want string // "" = no conflict; else words the answer must hold
	}{
		{"192.0.2.100", ""},
		{"192.0.2.11", "Raft address of member n1"},
		{"2001:db8::12", "Raft address of member n2"},
		{"192.0.2.33", "API address of member n3 (192.0.2.33:8080)"},
		{"::ffff:192.0.2.33", "API address of member n3"},
	}
	for _, tt := range tests {
		got := conflictingMember(netip.MustParseAddr(tt.vip), conf, members)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("conflictingMember(%s) = %q, want %q", tt.vip, got, tt.want)
		}
	}
}

func TestConflictingVIP(t *testing.T) {
	vips := []fsm.VIP{vip("192.0.2.100/24"), vip("2001:db8::100/64")}
	tests := []struct {
		raftAddr, apiAddr, want string
	}{
		{"192.0.2.14:7000", "192.0.2.14:8080", ""},
		{"192.0.2.100:7000", "192.0.2.14:8080", "Raft address 192.0.2.100:7000 is the cluster's VIP 192.0.2.100/24"},
		{"192.0.2.14:7000", "[2001:db8::100]:8080", "API address [2001:db8::100]:8080 is the cluster's VIP 2001:db8::100/64"},
		{"node4.example:7000", "", ""},
	}
	for _, tt := range tests {
		got := conflictingVIP(tt.raftAddr, tt.apiAddr, vips)
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("conflictingVIP(%s, %s) = %q, want %q", tt.raftAddr, tt.apiAddr, got, tt.want)
		}
	}
}
