package api

import (
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/raftvip/raftvip/cluster"
)

// The VIPs the reconciler cannot bind for an address in the way are in
// /v1/status, and absent when there are none.
func TestStatusShowsConflicts(t *testing.T) {
	var conflicts []cluster.AddressConflict
	s, err := NewServer(ServerConfig{Cluster: newLeader("n1"), Token: []byte(testToken),
		Conflicts: func() []cluster.AddressConflict { return conflicts }})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	if a := call(t, ts.URL, "GET", "/v1/status", "", ""); a.body["conflicts"] != nil {
		t.Errorf("conflicts without any: %#v", a.body["conflicts"])
	}
	conflicts = []cluster.AddressConflict{{VIP: "192.0.2.100/24", Address: "192.0.2.100/25", Link: "eth0",
		Text: "192.0.2.100/24 not bound: eth0 already has 192.0.2.100/25, not added by raftvip"}}
	a := call(t, ts.URL, "GET", "/v1/status", "", "")
	want := []any{map[string]any{"vip": "192.0.2.100/24", "address": "192.0.2.100/25", "link": "eth0",
		"text": "192.0.2.100/24 not bound: eth0 already has 192.0.2.100/25, not added by raftvip"}}
	if diff := cmp.Diff(want, a.body["conflicts"]); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
}

// A member's reported links are in /v1/members and /v1/status as "links",
// and the key is absent for a member that reported none.
func TestMembersShowLinks(t *testing.T) {
	f := newLeader("n1")
	f.status.Members = []cluster.Member{
		{ID: "n1", Suffrage: "voter", Role: "voter", Leader: true, Links: []string{"eth0", "lo"}},
		{ID: "n3", Suffrage: "voter", Role: "witness"},
	}
	_, ts := serve(t, f, nil)
	for _, path := range []string{"/v1/members", "/v1/status"} {
		ms, _ := call(t, ts.URL, "GET", path, "", "").body["members"].([]any)
		if len(ms) != 2 {
			t.Fatalf("GET %s: members %#v, want two", path, ms)
		}
		if got := ms[0].(map[string]any)["links"]; !cmp.Equal(got, []any{"eth0", "lo"}) {
			t.Errorf("GET %s: n1's links = %#v, want [eth0 lo]", path, got)
		}
		if got, ok := ms[1].(map[string]any)["links"]; ok {
			t.Errorf("GET %s: n3 reported no links, but has %#v", path, got)
		}
	}
}
