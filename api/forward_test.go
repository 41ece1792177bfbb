package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// leaderServer runs a leader and records the X-Raftvip-Forwarded header of
// every request it receives.
type leaderServer struct {
	fake *fakeCluster
	ts   *httptest.Server
	mu   sync.Mutex
	from []string
}

func startLeader(t *testing.T) *leaderServer {
	t.Helper()
	l := &leaderServer{fake: newLeader("n1")}
	s, err := NewServer(ServerConfig{Cluster: l.fake, Token: []byte(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	l.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.from = append(l.from, r.Header.Get(forwardedHeader))
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(l.ts.Close)
	return l
}

func (l *leaderServer) addr() string { return strings.TrimPrefix(l.ts.URL, "http://") }

func (l *leaderServer) forwardedBy() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.from...)
}

func TestFollowerForwardsWrites(t *testing.T) {
	for _, w := range append(writes(), writeCase{"remove vip as escaped CIDR", "DELETE", "/v1/vips/192.0.2.100%2F24", "",
		"remove-vip 192.0.2.100"}) {
		t.Run(w.name, func(t *testing.T) {
			l := startLeader(t)
			f := newFollower("n2", "n1", l.addr())
			_, ts := serve(t, f, nil)
			a := call(t, ts.URL, w.method, w.path, testToken, w.body)
			if a.code != 200 {
				t.Fatalf("answer %d %q, want 200", a.code, a.errMsg())
			}
			if diff := cmp.Diff([]string{w.call}, l.fake.Calls()); diff != "" {
				t.Errorf("leader calls (-want +got):\n%s", diff)
			}
			// The follower tried once itself, was refused, and forwarded.
			if diff := cmp.Diff([]string{w.call}, f.Calls()); diff != "" {
				t.Errorf("follower calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"n2"}, l.forwardedBy()); diff != "" {
				t.Errorf("%s headers seen by the leader (-want +got):\n%s", forwardedHeader, diff)
			}
		})
	}
}

func TestForwardRelaysLeaderAnswer(t *testing.T) {
	l := startLeader(t)
	l.fake.err = fmt.Errorf("remove-vip: %w: 192.0.2.100", fsm.ErrNoSuchVIP)
	_, ts := serve(t, newFollower("n2", "n1", l.addr()), nil)
	a := call(t, ts.URL, "DELETE", "/v1/vips/192.0.2.100", testToken, "")
	if a.code != 404 || a.errMsg() != "remove-vip: no such VIP: 192.0.2.100" {
		t.Errorf("got %d %q, want the leader's 404", a.code, a.errMsg())
	}
}

func TestForwardNeedsTokenFirst(t *testing.T) {
	l := startLeader(t)
	f := newFollower("n2", "n1", l.addr())
	_, ts := serve(t, f, nil)
	a := call(t, ts.URL, "POST", "/v1/leave", "wrong", `{"id":"n3"}`)
	if a.code != 401 {
		t.Errorf("got %d %q, want 401", a.code, a.errMsg())
	}
	if got := append(f.Calls(), l.forwardedBy()...); len(got) != 0 {
		t.Errorf("a refused write reached the cluster or the leader: %q", got)
	}
}

func TestForwardLoopGuard(t *testing.T) {
	l := startLeader(t)
	f := newFollower("n2", "n1", l.addr())
	_, ts := serve(t, f, nil)
	a := call(t, ts.URL, "POST", "/v1/leave", testToken, `{"id":"n3"}`, forwardedHeader+": n3")
	if a.code != http.StatusMisdirectedRequest {
		t.Errorf("status %d %q, want 421", a.code, a.errMsg())
	}
	if got := a.body["leader_api_addr"]; got != l.addr() {
		t.Errorf("leader_api_addr = %v, want %s", got, l.addr())
	}
	if !strings.Contains(a.errMsg(), "forwarded by n3") {
		t.Errorf("error %q does not say who forwarded it", a.errMsg())
	}
	if got := l.forwardedBy(); len(got) != 0 {
		t.Errorf("a forwarded write was forwarded again: %q", got)
	}
}

func TestForwardWithoutLeader(t *testing.T) {
	handingOver := newFollower("n1", "n1", "192.0.2.11:8080") // our own stale view names us
	tests := []struct {
		name      string
		fake      *fakeCluster
		wantCode  int
		wantInMsg string
	}{
		{"no leader", newFollower("n2", "", ""), 503, "no leader"},
		{"leader API address unknown", newFollower("n2", "n1", ""), 503, "API address of leader n1"},
		{"leadership moving away from us", handingOver, 503, "no leader"},
		// A dead leader: nothing listens on port 1 of the loopback address.
		{"leader unreachable", newFollower("n2", "n1", "127.0.0.1:1"), 502, "forward to leader n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := serve(t, tt.fake, nil)
			a := call(t, ts.URL, "POST", "/v1/transfer", testToken, `{}`)
			if a.code != tt.wantCode || !strings.Contains(a.errMsg(), tt.wantInMsg) {
				t.Errorf("got %d %q, want %d with %q", a.code, a.errMsg(), tt.wantCode, tt.wantInMsg)
			}
		})
	}
}

// testLeaderWait is the hold of the servers serve makes.
const testLeaderWait = 100 * time.Millisecond

// A write that reaches a follower during a failover, before it knows the
// new leader's API address, is held and forwarded once it does, instead
// of being refused; a follower that learns of no leader within the hold
// refuses it (TestForwardWithoutLeader).
func TestFollowerHoldsWriteUntilLeaderKnown(t *testing.T) {
	l := startLeader(t)
	f := newFollower("n2", "n1", "")
	ts := holding(t, f)
	learn := time.AfterFunc(3*leaderPoll, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.status.LeaderAPIAddr = l.addr()
	})
	t.Cleanup(func() { learn.Stop() })
	a := call(t, ts.URL, "POST", "/v1/leave", testToken, `{"id":"n3"}`)
	if a.code != 200 {
		t.Fatalf("answer %d %q, want 200 once the leader is known", a.code, a.errMsg())
	}
	if got := l.forwardedBy(); len(got) != 1 || got[0] != "n2" {
		t.Fatalf("the leader got the write from %q, want once from n2", got)
	}
}

// A node that is elected while it holds a write applies the write itself,
// rather than refusing it or forwarding it to itself: a node's own first
// health report, sent through its own API as it starts, takes that path.
func TestWriteHeldUntilThisNodeLeads(t *testing.T) {
	f := newFollower("n1", "", "")
	ts := holding(t, f)
	elected := time.AfterFunc(3*leaderPoll, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.leader = true
		f.status.State, f.status.LeaderID = cluster.RoleLeader, "n1"
	})
	t.Cleanup(func() { elected.Stop() })
	a := call(t, ts.URL, "POST", "/v1/leave", testToken, `{"id":"n3"}`)
	if a.code != 200 {
		t.Fatalf("answer %d %q, want 200 once this node leads", a.code, a.errMsg())
	}
	if got := f.Calls(); len(got) != 2 {
		t.Fatalf("calls %q, want the leave refused, then applied here", got)
	}
}

// holding serves f with a hold long enough for any test's election.
func holding(t *testing.T, f *fakeCluster) *httptest.Server {
	t.Helper()
	s, err := NewServer(ServerConfig{Cluster: f, Token: []byte(testToken), LeaderWait: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

// A node that still reports itself leader when the write it re-ran is
// refused (leadership lost meanwhile) answers 503; it never forwards the
// write to itself.
func TestWriteNotForwardedToItself(t *testing.T) {
	f := newFollower("n1", "n1", "")
	f.status.State = cluster.RoleLeader
	_, ts := serve(t, f, nil)
	f.mu.Lock()
	f.status.LeaderAPIAddr = strings.TrimPrefix(ts.URL, "http://")
	f.mu.Unlock()
	a := call(t, ts.URL, "POST", "/v1/leave", testToken, `{"id":"n3"}`)
	if a.code != 503 {
		t.Fatalf("answer %d %q, want 503", a.code, a.errMsg())
	}
	if got := f.Calls(); len(got) != 2 {
		t.Fatalf("calls %q, want the leave refused, re-run once, and not forwarded here", got)
	}
}
