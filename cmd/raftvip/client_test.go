package main

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
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

func TestStatusShowsFailoverAndHealth(t *testing.T) {
	now := time.UnixMilli(1764000060000)
	st := cluster.Status{ID: "n2", State: "Leader", Term: 5, LeaderID: "n2", Holder: true,
		Owner:    fsm.Owner{Node: "n2", Term: 5, Previous: "n1", Since: 1764000000000, Takeover: 312},
		Degraded: "this node is unhealthy (check web: exit status 1) and no other voter reports healthy: keeping the VIPs",
		Conflicts: []cluster.AddressConflict{{VIP: "192.0.2.50/24", Link: "eth0", MAC: "02:00:00:00:00:09",
			Text: "192.0.2.50/24 not bound: answered by 02:00:00:00:00:09 on the LAN (eth0)"}},
		Members: []cluster.Member{
			{ID: "n1", Suffrage: "voter", Health: fsm.Health{Reported: true, Fault: "check web: exit status 1", Priority: 100}},
			{ID: "n2", Suffrage: "voter", Leader: true, Health: fsm.Health{Reported: true, Healthy: true, Priority: 150}},
			{ID: "n3", Suffrage: "voter"},
		}}
	if got, want := ownerLine(st.Owner, now), "n2 (claimed in term 5), since "+time.UnixMilli(1764000000000).Format(time.RFC3339)+
		" (1m0s ago), took over from n1 after 312 ms without a holder"; got != want {
		t.Errorf("owner line\n got %q\nwant %q", got, want)
	}
	var b strings.Builder
	if err := (printer{w: &b}).status(st); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"DEGRADED", "keeping the VIPs", "CONFLICT  192.0.2.50/24 not bound: answered by 02:00:00:00:00:09", "FAILING: check web: exit status 1", "150", "healthy"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status output lacks %q:\n%s", want, b.String())
		}
	}
	if got := ownerLine(fsm.Owner{}, now); got != "- (never claimed)" {
		t.Errorf("owner line of an unclaimed cluster = %q", got)
	}
}

func TestAPIAddrDefaultsPort(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.11":              "192.0.2.11:8080",
		"192.0.2.11:9000":         "192.0.2.11:9000",
		"2001:db8::11":            "[2001:db8::11]:8080",
		"[2001:db8::11]":          "[2001:db8::11]:8080",
		"node1.example":           "node1.example:8080",
		"https://192.0.2.11:8443": "https://192.0.2.11:8443",
	} {
		if got := apiAddr(in); got != want {
			t.Errorf("apiAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteWithoutTokenNamesTheFlag: the error tells how to give the token.
func TestWriteWithoutTokenNamesTheFlag(t *testing.T) {
	var out, errb strings.Builder
	args := []string{"vip", "add", "192.0.2.101/24", "-addr", "127.0.0.1:1", "-insecure-plaintext"}
	if code := run(t.Context(), args, &out, &errb, env(nil)); code != 1 ||
		!strings.Contains(errb.String(), "-token-file") || !strings.Contains(errb.String(), "RAFTVIP_TOKEN_FILE") {
		t.Errorf("run(%q) = %d, stderr %q; want 1 naming -token-file and RAFTVIP_TOKEN_FILE", args, code, errb.String())
	}
}

// TestRaftPortSaysSo: an -addr that answers with something other than HTTP
// (raft's transport hangs up) is named as the likely Raft port at once.
func TestRaftPortSaysSo(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Read(make([]byte, 1)) // raft reads the RPC type byte, then hangs up
			c.Close()
		}
	}()
	var out, errb strings.Builder
	args := []string{"status", "-addr", ln.Addr().String(), "-insecure-plaintext"}
	if code := run(t.Context(), args, &out, &errb, env(nil)); code != 1 || !strings.Contains(errb.String(), "is that the Raft port?") {
		t.Errorf("run(%q) = %d, stderr %q; want 1 asking whether it is the Raft port", args, code, errb.String())
	}
}

func TestVIPListJSONKeepsOwner(t *testing.T) {
	var b strings.Builder
	l := api.VIPList{VIPs: []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24")}}, Owner: fsm.Owner{Node: "n2", Term: 4}}
	if err := (printer{w: &b, json: true}).vips(l); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"owner"`) || !strings.Contains(b.String(), `"n2"`) {
		t.Errorf("vip ls -json = %s, want the owner n2", b.String())
	}
}
