package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

func TestNewServerRefusesBadConfig(t *testing.T) {
	if _, err := NewServer(ServerConfig{Cluster: newLeader("n1")}); err == nil {
		t.Error("NewServer without a token = nil error, want one")
	}
	if _, err := NewServer(ServerConfig{Token: []byte(testToken)}); err == nil {
		t.Error("NewServer without a cluster = nil error, want one")
	}
}

// TestNewHTTPServerTimeouts checks the properties the values are for, not the
// values: every timeout is set, and a write's budget ends before the connection's
// WriteTimeout, so that the server answers 504 itself rather than being cut off.
func TestNewHTTPServerTimeouts(t *testing.T) {
	hs := NewHTTPServer("127.0.0.1:0", http.NotFoundHandler())
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": hs.ReadHeaderTimeout,
		"ReadTimeout": hs.ReadTimeout, "WriteTimeout": hs.WriteTimeout, "IdleTimeout": hs.IdleTimeout} {
		if d <= 0 {
			t.Errorf("%s = %s: a slow or idle client could hold a connection forever", name, d)
		}
	}
	if writeBudget >= hs.WriteTimeout {
		t.Errorf("writeBudget %s >= WriteTimeout %s: a slow write is cut off without an answer", writeBudget, hs.WriteTimeout)
	}
	if hs.MaxHeaderBytes <= 0 || hs.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes = %d, want a bound below the default 1 MiB", hs.MaxHeaderBytes)
	}
}

func TestLeader(t *testing.T) {
	notYet := newLeader("n1")
	notYet.status.Holder = false // elected, claim not committed yet
	tests := []struct {
		name     string
		fake     *fakeCluster
		wantCode int
		want     map[string]any
	}{
		{"holder", newLeader("n1"), 200, map[string]any{"node": "n1", "role": "leader", "holder": true,
			"leader_id": "n1", "leader_api_addr": "192.0.2.11:8080", "term": 7.0}},
		{"leader without committed claim", notYet, 503, map[string]any{"node": "n1", "role": "leader", "holder": false,
			"leader_id": "n1", "leader_api_addr": "192.0.2.11:8080", "term": 7.0}},
		{"follower", newFollower("n2", "n1", "192.0.2.11:8080"), 503, map[string]any{"node": "n2", "role": "follower",
			"holder": false, "leader_id": "n1", "leader_api_addr": "192.0.2.11:8080", "term": 7.0}},
		{"no leader", newFollower("n3", "", ""), 503, map[string]any{"node": "n3", "role": "follower",
			"holder": false, "leader_id": "", "leader_api_addr": "", "term": 7.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := serve(t, tt.fake, nil)
			a := call(t, ts.URL, "GET", "/v1/leader", "", "")
			if a.code != tt.wantCode {
				t.Errorf("status %d, want %d", a.code, tt.wantCode)
			}
			if diff := cmp.Diff(tt.want, a.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			// Load balancers often probe with HEAD.
			if h := call(t, ts.URL, "HEAD", "/v1/leader", "", ""); h.code != tt.wantCode {
				t.Errorf("HEAD status %d, want %d", h.code, tt.wantCode)
			}
		})
	}
}

func TestReads(t *testing.T) {
	_, ts := serve(t, newLeader("n1"), nil)
	vip := map[string]any{"prefix": "192.0.2.100/24", "interface": "eth0"}
	member := map[string]any{"id": "n1", "raft_addr": "192.0.2.11:7000", "api_addr": "192.0.2.11:8080",
		"suffrage": "voter", "role": "voter", "leader": true}
	tests := []struct {
		path string
		want map[string]any // only these keys are compared
	}{
		{"/healthz", map[string]any{"status": "ok"}},
		{"/v1/members", map[string]any{"members": []any{member}}},
		{"/v1/vips", map[string]any{"vips": []any{vip}, "owner": map[string]any{"node": "n1", "term": 7.0}}},
		{"/v1/status", map[string]any{"id": "n1", "state": "Leader", "holder": true, "vips": []any{vip}}},
	}
	for _, tt := range tests {
		a := call(t, ts.URL, "GET", tt.path, "", "")
		if a.code != 200 {
			t.Errorf("GET %s: status %d (%s), want 200", tt.path, a.code, a.errMsg())
		}
		got := map[string]any{}
		for k := range tt.want {
			got[k] = a.body[k]
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", tt.path, diff)
		}
	}

	// Empty lists are [] so scripts can iterate without a null check.
	_, empty := serve(t, newFollower("n2", "", ""), nil)
	if a := call(t, empty.URL, "GET", "/v1/members", "", ""); !cmp.Equal(a.body["members"], []any{}) {
		t.Errorf("members of an empty node = %#v, want []", a.body["members"])
	}
}

func TestWritesNeedToken(t *testing.T) {
	auths := []struct{ name, header string }{
		{"missing", ""},
		{"wrong token", "Bearer not-the-token"},
		{"token prefix", "Bearer " + testToken[:4]},
		{"other scheme", "Basic " + testToken},
		{"empty bearer", "Bearer "},
	}
	for _, w := range writes() {
		for _, au := range auths {
			t.Run(w.name+"/"+au.name, func(t *testing.T) {
				f := newLeader("n1")
				_, ts := serve(t, f, nil)
				var hdr []string
				if au.header != "" {
					hdr = append(hdr, "Authorization: "+au.header)
				}
				a := call(t, ts.URL, w.method, w.path, "", w.body, hdr...)
				if a.code != http.StatusUnauthorized || a.errMsg() == "" {
					t.Errorf("status %d %q, want 401 with an error message", a.code, a.errMsg())
				}
				if a.hdr.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header on 401")
				}
				if calls := f.Calls(); len(calls) != 0 {
					t.Errorf("cluster was called: %q", calls)
				}
			})
		}
	}
}

func TestWritesSucceed(t *testing.T) {
	for _, w := range writes() {
		t.Run(w.name, func(t *testing.T) {
			f := newLeader("n1")
			f.status.AppliedIndex = 42
			_, ts := serve(t, f, nil)
			a := call(t, ts.URL, w.method, w.path, testToken, w.body)
			if a.code != 200 || a.body["ok"] != true || a.body["index"] != 42.0 {
				t.Errorf("answer %d %v, want 200 with ok true and index 42", a.code, a.body)
			}
			if diff := cmp.Diff([]string{w.call}, f.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTransferEmptyBodyMeansAny(t *testing.T) {
	f := newLeader("n1")
	_, ts := serve(t, f, nil)
	if a := call(t, ts.URL, "POST", "/v1/transfer", testToken, ""); a.code != 200 {
		t.Errorf("POST /v1/transfer without body: %d %q, want 200", a.code, a.errMsg())
	}
	if diff := cmp.Diff([]string{`transfer ""`}, f.Calls()); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		wantCode                 int
		wantInMsg                string
	}{
		{"join without id", "POST", "/v1/join", `{"raft_addr":"192.0.2.14:7000","api_addr":"192.0.2.14:8080"}`, 400, "id is required"},
		{"join id too long", "POST", "/v1/join", `{"id":"` + strings.Repeat("n", 65) + `","raft_addr":"192.0.2.14:7000","api_addr":"192.0.2.14:8080"}`, 400, "at most 64"},
		{"join id bad char", "POST", "/v1/join", `{"id":"n 4","raft_addr":"192.0.2.14:7000","api_addr":"192.0.2.14:8080"}`, 400, `id "n 4" contains ' '`},
		{"join raft_addr not host:port", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14","api_addr":"192.0.2.14:8080"}`, 400, "raft_addr"},
		{"join raft_addr port 0", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14:0","api_addr":"192.0.2.14:8080"}`, 400, "raft_addr"},
		{"join api_addr port name", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14:7000","api_addr":"192.0.2.14:http"}`, 400, "api_addr"},
		{"join api_addr no host", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14:7000","api_addr":":8080"}`, 400, "api_addr"},
		{"join raft_addr host a space", "POST", "/v1/join", `{"id":"n4","raft_addr":"[ ]:7000","api_addr":"192.0.2.14:8080"}`, 400, "brackets hold an IPv6 address"},
		{"join api_addr bracketed IPv4", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14:7000","api_addr":"[192.0.2.14]:8080"}`, 400, "brackets hold an IPv6 address"},
		{"join raft_addr host with a space", "POST", "/v1/join", `{"id":"n4","raft_addr":"n 4.example:7000","api_addr":"192.0.2.14:8080"}`, 400, "neither an IP address nor a host name"},
		{"join raft_addr empty label", "POST", "/v1/join", `{"id":"n4","raft_addr":"n4..example:7000","api_addr":"192.0.2.14:8080"}`, 400, "neither an IP address nor a host name"},
		{"join api_addr missing", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14:7000"}`, 400, "api_addr is required"},
		{"join id wrong type", "POST", "/v1/join", `{"id":4}`, 400, `field "id" must be a string`},
		{"join unknown field", "POST", "/v1/join", `{"id":"n4","raft":"x"}`, 400, `unknown field "raft"`},
		{"join two objects", "POST", "/v1/join", `{"id":"n4"} {"id":"n5"}`, 400, "exactly one JSON object"},
		{"join malformed", "POST", "/v1/join", `{"id":"n4",}`, 400, "malformed JSON"},
		{"join truncated", "POST", "/v1/join", `{"id":"n4"`, 400, "ends in the middle"},
		{"join empty", "POST", "/v1/join", ``, 400, "body is empty"},
		{"join array", "POST", "/v1/join", `[]`, 400, "must be a JSON object"},
		{"leave without id", "POST", "/v1/leave", `{}`, 400, "id is required"},
		{"transfer bad id", "POST", "/v1/transfer", `{"id":"n1/etc"}`, 400, `contains '/'`},
		{"transfer dot-dot id", "POST", "/v1/transfer", `{"id":".."}`, 400, "must start with a letter or digit"},
		{"vip bad CIDR", "POST", "/v1/vips", `{"prefix":"192.0.2.300/24"}`, 400, "192.0.2.300/24"},
		{"vip no prefix length", "POST", "/v1/vips", `{"prefix":"192.0.2.101"}`, 400, "not a CIDR"},
		{"vip network address", "POST", "/v1/vips", `{"prefix":"192.0.2.0/24"}`, 400, "network address"},
		{"vip label on IPv6", "POST", "/v1/vips", `{"prefix":"2001:db8::100/64","label":"web"}`, 400, "IPv4 addresses only"},
		{"vip interface too long", "POST", "/v1/vips", `{"prefix":"192.0.2.101/24","interface":"a-very-long-interface"}`, 400, `interface "a-very-long-interface"`},
		{"vip missing prefix", "POST", "/v1/vips", `{"interface":"eth0"}`, 400, "prefix is required"},
		{"vip prefix as number", "POST", "/v1/vips", `{"prefix":1}`, 400, `field "prefix"`},
		{"delete not an address", "DELETE", "/v1/vips/web", "", 400, `"web" is not an IP address`},
		{"health priority 0", "POST", "/v1/health", `{"id":"n2","healthy":true,"priority":0}`, 400, "priority 0 is outside 1..255"},
		{"health bad id", "POST", "/v1/health", `{"id":"n 2","healthy":true,"priority":100}`, 400, `contains ' '`},
		{"health fault too long", "POST", "/v1/health", `{"id":"n2","fault":"` + strings.Repeat("x", 600) + `","priority":100}`, 400, "at most 512 bytes"},
		{"body too large", "POST", "/v1/vips", `{"label":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than 65536 bytes"},
		{"wrong method", "PUT", "/v1/vips", "", 405, "not allowed"},
		{"unknown endpoint", "POST", "/v1/vip", "", 404, "no such endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLeader("n1")
			_, ts := serve(t, f, nil)
			a := call(t, ts.URL, tt.method, tt.path, testToken, tt.body)
			if a.code != tt.wantCode || !strings.Contains(a.errMsg(), tt.wantInMsg) {
				t.Errorf("got %d %q, want %d with %q", a.code, a.errMsg(), tt.wantCode, tt.wantInMsg)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Errorf("cluster was called: %q", calls)
			}
		})
	}
}

func TestWrongMethodAllow(t *testing.T) {
	_, ts := serve(t, newLeader("n1"), nil)
	a := call(t, ts.URL, "DELETE", "/v1/leader", testToken, "")
	if a.code != 405 || a.hdr.Get("Allow") != "GET, HEAD" {
		t.Errorf("DELETE /v1/leader: %d, Allow %q; want 405, Allow \"GET, HEAD\"", a.code, a.hdr.Get("Allow"))
	}
}

func TestRemoveVIPForms(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/v1/vips/192.0.2.100", "remove-vip 192.0.2.100"},
		{"/v1/vips/192.0.2.100/24", "remove-vip 192.0.2.100"},
		{"/v1/vips/192.0.2.100%2F24", "remove-vip 192.0.2.100"},
		{"/v1/vips/2001:db8::100", "remove-vip 2001:db8::100"},
		{"/v1/vips/2001:db8::100%2F64", "remove-vip 2001:db8::100"},
	}
	for _, tt := range tests {
		f := newLeader("n1")
		_, ts := serve(t, f, nil)
		if a := call(t, ts.URL, "DELETE", tt.path, testToken, ""); a.code != 200 {
			t.Errorf("DELETE %s: %d %q, want 200", tt.path, a.code, a.errMsg())
		}
		if diff := cmp.Diff([]string{tt.want}, f.Calls()); diff != "" {
			t.Errorf("DELETE %s calls (-want +got):\n%s", tt.path, diff)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantLogs int
	}{
		{"no such VIP", fmt.Errorf("apply: %w: 192.0.2.100", fsm.ErrNoSuchVIP), 404, 0},
		{"unknown member", fmt.Errorf("leave n9: %w", cluster.ErrUnknownMember), 404, 0},
		{"invalid VIP", fmt.Errorf("apply: %w", fsm.ErrInvalidVIP), 400, 0},
		{"no leader", fmt.Errorf("apply: %w", cluster.ErrNoLeader), 503, 1},
		{"deadline", fmt.Errorf("apply: %w", context.DeadlineExceeded), 504, 1},
		{"address conflict", fmt.Errorf("apply: %w: VIP is n1's address", cluster.ErrAddressConflict), 409, 0},
		{"prefix change", fmt.Errorf("%w: 192.0.2.100/24 is in the VIP set", cluster.ErrVIPExists), 409, 0},
		{"link missing", fmt.Errorf("%w: interface \"eth1\" of 192.0.2.103/24 is not on n1, n2", cluster.ErrLinkMissing), 409, 0},
		{"joiner unreachable", fmt.Errorf("join n4: %w", cluster.ErrUnreachable), 502, 1},
		{"maybe applied", fmt.Errorf("apply: leadership lost: %w", cluster.ErrMaybeApplied), 503, 1},
		{"other", errors.New("raft: disk full\nsecond line"), 500, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLeader("n1")
			f.err = tt.err
			var logs bytes.Buffer
			_, ts := serve(t, f, &logs)
			a := call(t, ts.URL, "DELETE", "/v1/vips/192.0.2.100", testToken, "")
			wantMsg := strings.Join(strings.Fields(tt.err.Error()), " ")
			if a.code != tt.wantCode || a.errMsg() != wantMsg {
				t.Errorf("got %d %q, want %d %q", a.code, a.errMsg(), tt.wantCode, wantMsg)
			}
			lines := strings.Count(logs.String(), "\n")
			if lines != tt.wantLogs {
				t.Errorf("logged %d lines, want %d:\n%s", lines, tt.wantLogs, logs.String())
			}
			if lines > 0 && !strings.Contains(logs.String(), "method=DELETE path=/v1/vips/192.0.2.100") {
				t.Errorf("log lacks method and path:\n%s", logs.String())
			}
			if strings.Contains(logs.String(), testToken) {
				t.Errorf("the token was logged:\n%s", logs.String())
			}
		})
	}
}

func TestStopWrites(t *testing.T) {
	f := newLeader("n1")
	s, ts := serve(t, f, nil)
	s.StopWrites()
	for _, w := range writes() {
		a := call(t, ts.URL, w.method, w.path, testToken, w.body)
		if a.code != 503 || a.errMsg() != "shutting down" {
			t.Errorf("%s after StopWrites: %d %q, want 503 \"shutting down\"", w.name, a.code, a.errMsg())
		}
	}
	for _, path := range []string{"/healthz", "/v1/leader", "/v1/status", "/v1/members", "/v1/vips"} {
		if a := call(t, ts.URL, "GET", path, "", ""); a.code != 200 {
			t.Errorf("GET %s after StopWrites: %d, want 200", path, a.code)
		}
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Errorf("cluster was called after StopWrites: %q", calls)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	_, plain := serve(t, newLeader("n1"), nil)
	if a := call(t, plain.URL, "GET", "/metrics", "", ""); a.code != 404 || !strings.Contains(a.errMsg(), "not enabled") {
		t.Errorf("GET /metrics without metrics: %d %q, want 404 saying so", a.code, a.errMsg())
	}
	s, err := NewServer(ServerConfig{Cluster: newLeader("n1"), Token: []byte(testToken),
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "raftvip_leader 1\n") })})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "raftvip_leader 1\n" {
		t.Errorf("GET /metrics = %d %q, want the metrics handler's answer", resp.StatusCode, b)
	}
}
