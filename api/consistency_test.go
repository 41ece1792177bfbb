package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadWaitsForMinIndex: a read with ?min_index answers once the node has
// applied that index, refuses a bad one, and says so when it lags too long.
func TestReadWaitsForMinIndex(t *testing.T) {
	f := newFollower("n3", "n1", "192.0.2.11:8080")
	f.status.AppliedIndex = 5
	_, ts := serve(t, f, nil)
	go func() {
		time.Sleep(20 * time.Millisecond) // the entry arrives a little later
		f.mu.Lock()
		f.status.AppliedIndex = 9
		f.mu.Unlock()
	}()
	for _, path := range []string{"/v1/vips", "/v1/members", "/v1/status"} {
		if a := call(t, ts.URL, "GET", path+"?min_index=9", "", ""); a.code != 200 {
			t.Errorf("GET %s?min_index=9 = %d %v, want 200", path, a.code, a.body)
		}
	}
	if a := call(t, ts.URL, "GET", "/v1/vips?min_index=x", "", ""); a.code != 400 {
		t.Errorf("bad min_index = %d, want 400", a.code)
	}
	a := call(t, ts.URL, "GET", "/v1/vips?min_index=99", "", "")
	if a.code != http.StatusServiceUnavailable || !strings.Contains(a.errMsg(), "applied the log to index 9, not yet min_index 99") {
		t.Errorf("lagging read = %d %q, want 503 saying how far the node is", a.code, a.errMsg())
	}
}

// TestWriteSettlesOnMembers: the write's answer waits until the other
// members have applied its index, so that a read there sees the change.
func TestWriteSettlesOnMembers(t *testing.T) {
	var asked atomic.Value
	member := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.URL.String())
		writeJSON(w, http.StatusOK, membersBody{})
	}))
	t.Cleanup(member.Close)
	f := newLeader("n1")
	f.status.AppliedIndex = 17
	f.status.Members = append(f.status.Members, f.status.Members[0])
	f.status.Members[1].ID, f.status.Members[1].APIAddr = "n2", strings.TrimPrefix(member.URL, "http://")
	_, ts := serve(t, f, nil)
	a := call(t, ts.URL, "POST", "/v1/vips", testToken, `{"prefix":"192.0.2.101/24"}`)
	if a.code != 200 || a.body["index"] != 17.0 {
		t.Fatalf("add vip = %d %v, want 200 with index 17", a.code, a.body)
	}
	if got, _ := asked.Load().(string); got != "/v1/members?min_index=17" {
		t.Errorf("member was asked %q, want /v1/members?min_index=17", got)
	}
}

// TestTransferAnswerSaysWhatHappened: a transfer to the node that leads is
// a no-op and says so; a real one names the new leader.
func TestTransferAnswerSaysWhatHappened(t *testing.T) {
	f := newLeader("n1")
	_, ts := serve(t, f, nil)
	a := call(t, ts.URL, "POST", "/v1/transfer", testToken, `{"id":"n1"}`)
	if a.code != 200 || a.body["message"] != "n1 already leads: nothing to transfer" || a.body["moved"] != false {
		t.Errorf("transfer to the leader = %d %v, want a no-op answer", a.code, a.body)
	}
	a = call(t, ts.URL, "POST", "/v1/transfer", testToken, `{"id":"n2"}`)
	if a.code != 200 || a.body["message"] != "leadership transferred to n2" || a.body["leader"] != "n2" {
		t.Errorf("transfer to n2 = %d %v, want it to name n2", a.code, a.body)
	}
}
