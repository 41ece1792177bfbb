package cluster

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

// TestRoleOf: /v1/status has always shown raft's own state names; the role
// type must keep them, byte for byte.
func TestRoleOf(t *testing.T) {
	for _, s := range []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown, raft.RaftState(42)} {
		b, err := json.Marshal(Status{State: RoleOf(s)})
		if err != nil {
			t.Fatal(err)
		}
		if want := `"state":"` + s.String() + `"`; !strings.Contains(string(b), want) {
			t.Errorf("status of a %s node = %s, want %s", s, b, want)
		}
	}
}
