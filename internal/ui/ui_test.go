package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster"
)

func newTestServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	if cfg.Source == nil {
		cfg.Source = SourceFunc(threeNodes)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts
}

func get(t *testing.T, url, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestPageIsSelfContained: the page and its assets are served from the
// binary, reference nothing outside it, and forbid loading anything else.
func TestPageIsSelfContained(t *testing.T) {
	ts := newTestServer(t, Config{})
	for _, path := range []string{"/", "/ui/app.js", "/ui/app.css"} {
		resp, body := get(t, ts.URL+path, "")
		if resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("GET %s = %s", path, resp.Status)
		}
		if bytes.Contains(body, []byte("http://")) || bytes.Contains(body, []byte("https://")) {
			t.Errorf("%s refers to another site", path)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP = %q", path, csp)
		}
	}
	_, page := get(t, ts.URL+"/", "")
	for _, want := range []string{`src="/ui/app.js"`, `href="/ui/app.css"`, `id="holder"`, `id="members"`, `id="history"`} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %s", want)
		}
	}
	if resp, _ := get(t, ts.URL+"/v1/status", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/status on the page's listener = %s, want 404: the page serves no API", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/ui/status.json", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %v %v, want 405: the page is read-only", resp.Status, err)
	}
}

func TestStatusJSON(t *testing.T) {
	ts := newTestServer(t, Config{})
	resp, body := get(t, ts.URL+"/ui/status.json", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET = %s %v", resp.Status, resp.Header)
	}
	var v View
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if v.Holder != "n1" || len(v.Members) != 3 || len(v.History) != 3 || v.VIPs[0] != "192.0.2.100/24" {
		t.Fatalf("view = %+v", v)
	}
}

// TestToken: with a token, the JSON is refused without it or with another
// one; the page itself (no data) still loads so it can ask for the token.
func TestToken(t *testing.T) {
	const tok, clusterTok = "page-token-123", "cluster-token-456"
	ts := newTestServer(t, Config{Token: []byte(tok), ClusterToken: []byte(clusterTok)})
	for _, bad := range []string{"", "wrong", clusterTok} {
		resp, body := get(t, ts.URL+"/ui/status.json", bad)
		if resp.StatusCode != http.StatusUnauthorized || bytes.Contains(body, []byte("n1")) {
			t.Errorf("token %q: %s %s, want 401 and no status", bad, resp.Status, body)
		}
	}
	resp, body := get(t, ts.URL+"/ui/status.json", tok)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("right token: %s", resp.Status)
	}
	if bytes.Contains(body, []byte(tok)) || bytes.Contains(body, []byte(clusterTok)) {
		t.Errorf("the status shows a token: %s", body)
	}
	if resp, _ := get(t, ts.URL+"/", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("page without token = %s", resp.Status)
	}
}

func TestRefusesTheClusterToken(t *testing.T) {
	_, err := New(Config{Source: SourceFunc(threeNodes), Token: []byte("same"), ClusterToken: []byte("same")})
	if !errors.Is(err, ErrClusterToken) {
		t.Fatalf("New with the cluster token = %v, want ErrClusterToken", err)
	}
}

// fakeAddrListener reports another address than it listens on, to test the
// warning without binding outside loopback.
type fakeAddrListener struct {
	net.Listener
	addr net.Addr
}

func (l fakeAddrListener) Addr() net.Addr { return l.addr }

// TestOpenPageWarns: an open page warns unless on loopback or behind a token.
func TestOpenPageWarns(t *testing.T) {
	cases := []struct {
		name  string
		ip    string
		token string
		warn  bool
	}{
		{"open on the LAN", "192.0.2.11", "", true},
		{"open on loopback", "127.0.0.1", "", false},
		{"token on the LAN", "192.0.2.11", "t", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			s, err := New(Config{Source: SourceFunc(func() cluster.Status { return cluster.Status{} }),
				Token: []byte(c.token), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				done <- s.Serve(fakeAddrListener{ln, &net.TCPAddr{IP: net.ParseIP(c.ip), Port: 8090}})
			}()
			if resp, err := http.Get("http://" + ln.Addr().String() + "/"); err != nil {
				t.Fatal(err)
			} else {
				resp.Body.Close()
			}
			if err := s.Shutdown(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("Serve after Shutdown = %v, want nil", err)
			}
			if got := strings.Contains(logs.String(), "open to anyone"); got != c.warn {
				t.Errorf("warned = %v, want %v; logs:\n%s", got, c.warn, logs.String())
			}
		})
	}
}
