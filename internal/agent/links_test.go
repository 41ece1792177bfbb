package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/cluster"
)

func TestLinkCache(t *testing.T) {
	now := time.Unix(1764000000, 0)
	host := []string{"lo", "eth0"}
	var err error
	calls := 0
	c := newLinkCache(func() ([]string, error) { calls++; return slices.Clone(host), err })
	c.now = func() time.Time { return now }

	if got := c.links(); !slices.Equal(got, []string{"eth0", "lo"}) {
		t.Fatalf("links = %v, want [eth0 lo] sorted", got)
	}
	host = append(host, "eth1")
	now = now.Add(linkRefresh / 2)
	if got := c.links(); len(got) != 2 || calls != 1 {
		t.Fatalf("within the refresh period: links = %v after %d listings, want the cached two after 1", got, calls)
	}
	now = now.Add(linkRefresh)
	if got := c.links(); !slices.Equal(got, []string{"eth0", "eth1", "lo"}) {
		t.Fatalf("after the refresh period: links = %v, want eth1 too", got)
	}

	// What cannot be reported whole is not reported: the cluster then
	// checks nothing rather than a wrong list.
	for name, set := range map[string]func(){
		"listing fails": func() { err = errors.New("netlink: dump interrupted") },
		"too many": func() {
			err = nil
			host = make([]string, 300)
			for i := range host {
				host[i] = fmt.Sprintf("veth%d", i)
			}
		},
		"a bad name": func() { err = nil; host = []string{"eth0", "bad name"} },
	} {
		set()
		now = now.Add(linkRefresh)
		if got := c.links(); got != nil {
			t.Errorf("%s: links = %v, want none", name, got)
		}
	}
}

// A leader of a release from before links were reported refuses the field;
// the node reports again without it, so its health still gets through.
func TestReportHealthWithoutLinksForOldLeader(t *testing.T) {
	var bodies []map[string]any
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			t.Errorf("decode report: %v", err)
		}
		bodies = append(bodies, b)
		w.Header().Set("Content-Type", "application/json")
		if _, ok := b["links"]; ok { // as the older API's decoder answers
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintln(w, `{"error":"unknown field \"links\""}`)
			return
		}
		fmt.Fprintln(w, `{"ok":true,"index":7}`)
	}))
	defer ts.Close()
	a := &Agent{client: api.NewClient(ts.URL, "token", nil)}
	r := cluster.HealthReport{ID: "n2", Healthy: true, Priority: 100, Links: []string{"eth0", "lo"}}
	if err := a.reportHealth(context.Background(), r); err != nil {
		t.Fatalf("report: %v", err)
	}
	if len(bodies) != 2 || bodies[1]["links"] != nil || bodies[1]["healthy"] != true {
		t.Fatalf("reports sent: %v, want one with links, then one without", bodies)
	}
}

func TestLinksRefused(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&api.Error{Status: 400, Message: `unknown field "links"`}, true},
		{fmt.Errorf("report: %w", &api.Error{Status: 400, Message: `unknown field "links"`}), true},
		{&api.Error{Status: 400, Message: `unknown field "witness"`}, false},
		{&api.Error{Status: 503, Message: `unknown field "links"`}, false},
		{errors.New(`unknown field "links"`), false},
		{nil, false},
	} {
		if got := linksRefused(tt.err); got != tt.want {
			t.Errorf("linksRefused(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
