package main

import (
	"strings"
	"testing"
)

// TestVIPArgsRefusedLocally: `vip add` and `vip rm` refuse what the server
// would, in the server's words, before dialing (nothing listens on port 1).
func TestVIPArgsRefusedLocally(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"vip", "add", "192.0.2.101", "-addr", "127.0.0.1:1", "-insecure-plaintext"}, "not a CIDR"},
		{[]string{"vip", "rm", "web", "-addr", "127.0.0.1:1", "-insecure-plaintext"}, `"web" is not an IP address or CIDR`},
	}
	for _, tt := range tests {
		var out, errb strings.Builder
		if code := run(t.Context(), tt.args, &out, &errb, env(nil)); code != 1 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 1 with %q", tt.args, code, errb.String(), tt.want)
		}
	}
}
