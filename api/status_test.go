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
