package api

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/internal/pki/pkitest"
)

// serveTLS serves f's API over TLS with conf (forwarding with it too) on a
// loopback port through Listener, and returns its host:port. connState, if
// set, is the server's ConnState hook.
func serveTLS(t *testing.T, f *fakeCluster, conf *tls.Config, connState func(net.Conn, http.ConnState)) string {
	t.Helper()
	s, err := NewServer(ServerConfig{Cluster: f, Token: []byte(testToken), TLS: conf})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(ln.Addr().String(), s.Handler())
	hs.ConnState = connState
	go hs.Serve(Listener(ln, conf))
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

func TestTLSForwardAndRefusal(t *testing.T) {
	confs := pkitest.Configs(t, "n1", "n2", "admin")
	leader := newLeader("n1")
	leaderAddr := serveTLS(t, leader, confs[0], nil)
	follower := newFollower("n2", "n1", leaderAddr)
	followerAddr := serveTLS(t, follower, confs[1], nil)

	// An operator's certificate of the cluster: the write is forwarded to the
	// leader over TLS, with the follower's certificate.
	c := NewClient(followerAddr, testToken, confs[2])
	if _, err := c.Transfer(t.Context(), ""); err != nil {
		t.Fatalf("write through the follower: %v", err)
	}
	if diff := cmp.Diff([]string{`transfer ""`}, leader.Calls()); diff != "" {
		t.Fatalf("leader calls (-want +got):\n%s", diff)
	}

	// Without a certificate, or in plain HTTP, with the right token: refused,
	// and nothing reaches the node.
	noCert := &tls.Config{InsecureSkipVerify: true}
	for _, try := range []struct {
		name string
		c    *Client
	}{
		{"no certificate", NewClient(followerAddr, testToken, noCert)},
		{"plain HTTP", NewClient(followerAddr, testToken, nil)},
		{"certificate of another cluster", NewClient(followerAddr, testToken, pkitest.Configs(t, "admin")[0])},
	} {
		_, err := try.c.Transfer(t.Context(), "")
		if err == nil {
			t.Errorf("%s: write accepted", try.name)
		}
		t.Logf("%s: %v", try.name, err)
	}
	if got := follower.Calls(); len(got) != 1 {
		t.Errorf("follower calls %v, want only the first transfer", got)
	}
}

// TestClientAtReusesConnections: calls through clients made with At, to the
// same node, go over one TLS connection; the agent reports health every
// second while there is no leader, and the API accepts only 64 connections.
func TestClientAtReusesConnections(t *testing.T) {
	confs := pkitest.Configs(t, "n1", "n2")
	var opened atomic.Int32
	addr := serveTLS(t, newLeader("n1"), confs[0], func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	})
	c := NewClient("192.0.2.1:8080", testToken, confs[1])
	for i := range 5 {
		at := c.At(addr)
		if _, err := at.Status(t.Context()); err != nil {
			t.Fatalf("status %d: %v", i, err)
		}
		if err := at.ReportHealth(t.Context(), HealthReport{ID: "n2", Healthy: true, Priority: 100}); err != nil {
			t.Fatalf("health report %d: %v", i, err)
		}
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("10 calls opened %d connections, want 1", n)
	}
}

func TestMonitorHandler(t *testing.T) {
	s, err := NewServer(ServerConfig{Cluster: newLeader("n1"), Token: []byte(testToken)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.MonitorHandler())
	t.Cleanup(ts.Close)
	for _, tt := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/v1/leader", 200},
		{"GET", "/healthz", 200},
		{"GET", "/v1/status", 404},
		{"GET", "/v1/members", 404},
		{"POST", "/v1/join", 404},
		{"POST", "/v1/vips", 404},
		{"POST", "/v1/leader", 404},
	} {
		a := call(t, ts.URL, tt.method, tt.path, testToken, `{"id":"n9","raft_addr":"192.0.2.19:7000","api_addr":"192.0.2.19:8080"}`)
		if a.code != tt.code {
			t.Errorf("%s %s on the monitor port = %d, want %d", tt.method, tt.path, a.code, tt.code)
		}
		if tt.code == 404 && !strings.Contains(a.errMsg(), "monitor port") {
			t.Errorf("%s %s: error %q does not name the monitor port", tt.method, tt.path, a.errMsg())
		}
	}
}
