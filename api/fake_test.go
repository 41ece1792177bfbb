package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

const testToken = "s3cret-token"

// fakeCluster records every call the server makes, as one readable line each,
// and answers as a leader or a follower.
type fakeCluster struct {
	mu     sync.Mutex
	status cluster.Status
	leader bool
	err    error // returned by every write when set
	calls  []string
	// onApply, if set, sees the witness flag of every applied command.
	onApply func(witness bool)
}

var _ Cluster = (*fakeCluster)(nil)

func newLeader(id string) *fakeCluster {
	return &fakeCluster{leader: true, status: cluster.Status{
		ID: id, State: "Leader", Term: 7, LeaderID: id, LeaderAPIAddr: "192.0.2.11:8080", Holder: true,
		Members: []cluster.Member{{ID: id, RaftAddr: "192.0.2.11:7000", APIAddr: "192.0.2.11:8080", Suffrage: "voter", Role: "voter", Leader: true}},
		VIPs:    []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24"), Interface: "eth0"}},
		Owner:   fsm.Owner{Node: id, Term: 7},
	}}
}

// newFollower follows leaderID, whose API is at leaderAPI ("" = unknown).
func newFollower(id, leaderID, leaderAPI string) *fakeCluster {
	return &fakeCluster{status: cluster.Status{
		ID: id, State: "Follower", Term: 7, LeaderID: leaderID, LeaderAPIAddr: leaderAPI,
		Owner: fsm.Owner{Node: leaderID, Term: 7},
	}}
}

func (f *fakeCluster) Status() cluster.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeCluster) record(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if !f.leader {
		return fmt.Errorf("%s: %w", call, cluster.ErrNotLeader)
	}
	return f.err
}

func (f *fakeCluster) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeCluster) Apply(_ context.Context, c fsm.Command) error {
	if f.onApply != nil {
		f.onApply(c.Witness)
	}
	switch c.Type {
	case fsm.TypeAddVIP:
		return f.record(fmt.Sprintf("add-vip %s if=%q label=%q", c.VIP.Prefix, c.VIP.Interface, c.VIP.Label))
	case fsm.TypeRemoveVIP:
		return f.record("remove-vip " + c.Addr.String())
	case fsm.TypeSetHealth:
		return f.record(fmt.Sprintf("set-health %s healthy=%v fault=%q priority=%d", c.Node, c.Healthy, c.Fault, c.Priority))
	}
	return f.record(c.Type.String())
}

func (f *fakeCluster) AddVIP(ctx context.Context, v fsm.VIP, o cluster.AddVIPOptions) (cluster.AddVIPResult, error) {
	switch {
	case o.Force:
		return cluster.AddVIPResult{MissingLink: []string{"n2"}},
			f.record(fmt.Sprintf("force-vip %s if=%q label=%q", v.Prefix, v.Interface, v.Label))
	case o.Replace:
		return cluster.AddVIPResult{}, f.record(fmt.Sprintf("replace-vip %s if=%q label=%q", v.Prefix, v.Interface, v.Label))
	}
	return cluster.AddVIPResult{}, f.Apply(ctx, fsm.AddVIP(v))
}

func (f *fakeCluster) Join(_ context.Context, id, raftAddr, apiAddr string) error {
	return f.record(fmt.Sprintf("join %s %s %s", id, raftAddr, apiAddr))
}

func (f *fakeCluster) Leave(_ context.Context, id string) error { return f.record("leave " + id) }

func (f *fakeCluster) Transfer(_ context.Context, id string) (cluster.TransferResult, error) {
	if err := f.record(fmt.Sprintf("transfer %q", id)); err != nil {
		return cluster.TransferResult{}, err
	}
	if id == "" || id == f.status.ID {
		return cluster.TransferResult{Leader: f.status.ID}, nil
	}
	return cluster.TransferResult{Leader: id, Moved: true}, nil
}

// serve starts an httptest server for f. logs, if not nil, receives the
// server's log lines.
func serve(t *testing.T, f *fakeCluster, logs io.Writer) (*Server, *httptest.Server) {
	t.Helper()
	var log *slog.Logger
	if logs != nil {
		log = slog.New(slog.NewTextHandler(logs, nil))
	}
	// A short hold: the no-leader cases answer without waiting the default.
	s, err := NewServer(ServerConfig{Cluster: f, Token: []byte(testToken), Logger: log, LeaderWait: testLeaderWait})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

// answer is a decoded API answer: status and the JSON body as a map.
type answer struct {
	code int
	body map[string]any
	hdr  http.Header
}

// call sends method path with body to ts, with the Bearer token if not empty,
// and extra headers as "Name: value" strings.
func call(t *testing.T, baseURL, method, path, token, body string, headers ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, baseURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{code: resp.StatusCode, hdr: resp.Header}
	if method == http.MethodHead {
		return a
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %q; want JSON", method, path, ct, raw)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&a.body); err != nil {
		t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
	}
	return a
}

// errMsg is the "error" field of an answer, "" if none.
func (a answer) errMsg() string {
	s, _ := a.body["error"].(string)
	return s
}

// writeCase is one valid request to a write endpoint and the call it causes.
type writeCase struct {
	name, method, path, body, call string
}

// writes lists one writeCase per write endpoint.
func writes() []writeCase {
	return []writeCase{
		{"join", "POST", "/v1/join", `{"id":"n4","raft_addr":"192.0.2.14:7000","api_addr":"192.0.2.14:8080"}`,
			"join n4 192.0.2.14:7000 192.0.2.14:8080"},
		{"leave", "POST", "/v1/leave", `{"id":"n3"}`, "leave n3"},
		{"transfer", "POST", "/v1/transfer", `{"id":"n2"}`, `transfer "n2"`},
		{"add vip", "POST", "/v1/vips", `{"prefix":"192.0.2.101/24","interface":"eth0","label":"web"}`,
			`add-vip 192.0.2.101/24 if="eth0" label="web"`},
		{"remove vip", "DELETE", "/v1/vips/192.0.2.100", "", "remove-vip 192.0.2.100"},
		{"health", "POST", "/v1/health", `{"id":"n2","healthy":false,"fault":"check web: exit status 1","priority":150}`,
			`set-health n2 healthy=false fault="check web: exit status 1" priority=150`},
	}
}
