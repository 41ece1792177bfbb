package e2e

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// monitorPort is the plain-HTTP monitor listener of the TLS test's agents.
const monitorPort = 9090

// TestTLSRefusesOutsiders: a host on the LAN that is not a member (the lab's
// intruder namespace) cannot speak Raft, use the API or join without a
// certificate of the cluster CA, and a node with another cluster's
// certificates can neither join nor reuse a member's data dir. Through all of
// it the holder, its term and the three voters stay as they were. The monitor
// port answers the leadership question in plain HTTP, and nothing else.
func TestTLSRefusesOutsiders(t *testing.T) {
	e := newEnvWith(t, lab.Options{Intruder: true})
	e.c.Common = append(e.c.Common, "-monitor-addr", fmt.Sprintf(":%d", monitorPort))
	l, c := e.lab, e.c
	h := e.startCluster()
	before, err := e.status(h)
	if err != nil {
		t.Fatal(err)
	}
	raftAddr := func(i int) string { return netip.AddrPortFrom(l.NodeIP(i), rig.RaftPort).String() }
	apiAddr := c.APIAddr

	// Another cluster's CA, with certificates for a member's name and an operator.
	other := filepath.Join(l.Dir(), "other-tls")
	for _, args := range [][]string{{"init", "-dir", other}, {"cert", "-dir", other, "-id", "n4"},
		{"cert", "-dir", other, "-id", lab.NodeName(h)}, {"cert", "-dir", other, "-id", rig.Admin}} {
		if _, err := rig.TLS(e.ctx, bins.raftvip, args...); err != nil {
			t.Fatal(err)
		}
	}
	admin, err := rig.ClientTLS(c.TLSDir, rig.Admin)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := rig.ClientTLS(other, rig.Admin)
	if err != nil {
		t.Fatal(err)
	}
	// A client that sends its certificate whatever the server asks for and
	// trusts any server: only the server's refusal can stop it.
	foreign.InsecureSkipVerify = true
	foreignCert := foreign.Certificates[0]
	foreign.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreignCert, nil }
	noCert := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}

	t.Log("control: the operator's certificate is accepted on both ports")
	if err := e.tlsRefused(e.dialNS(raftAddr(h)), raftAddr(h), admin); err == nil {
		t.Fatal("the Raft port refused a certificate of the cluster: the checks below would prove nothing")
	}
	if code, _, err := e.httpsGet(apiAddr(h), "/v1/status", admin); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/status with the operator's certificate: %d, %v", code, err)
	}

	t.Log("(a) no certificate: refused on the Raft and API ports")
	for _, addr := range []string{raftAddr(h), apiAddr(h)} {
		if err := e.tlsRefused(e.dialNS(addr), addr, noCert); err != nil {
			t.Errorf("%s without a client certificate: %v", addr, err)
		}
		if err := e.plainRefused(e.dialNS(addr), addr); err != nil {
			t.Errorf("%s in plain TCP: %v", addr, err)
		}
	}

	t.Log("(b) a join with the cluster token but no certificate: refused")
	join := `{"id":"n9","raft_addr":"192.0.2.19:7000","api_addr":"192.0.2.19:8080"}`
	for _, url := range []string{"https://" + apiAddr(h), "http://" + apiAddr(h)} {
		if code, err := e.postJoin(url, join, noCert); err == nil && code/100 == 2 {
			t.Errorf("POST %s/v1/join with the token and no certificate: %d", url, code)
		} else {
			t.Logf("POST %s/v1/join: %d, %v", url, code, err)
		}
	}
	out, err := l.Exec(e.ctx, l.IntruderNS(), bins.raftvip, "join", "-id", "n9", "-raft-addr", "192.0.2.19:7000",
		"-api-addr", "192.0.2.19:8080", "-addr", apiAddr(h), "-token-file", c.TokenFile, "-insecure-plaintext")
	if err == nil {
		t.Errorf("raftvip join -insecure-plaintext succeeded: %s", out)
	}

	t.Log("(c) a certificate of another CA: refused on both ports")
	for _, addr := range []string{raftAddr(h), apiAddr(h)} {
		if err := e.tlsRefused(e.dialNS(addr), addr, foreign); err != nil {
			t.Errorf("%s with another cluster's certificate: %v", addr, err)
		}
	}
	out, err = l.Exec(e.ctx, l.IntruderNS(), bins.raftvip, append([]string{"status", "-addr", apiAddr(h)},
		rig.CertArgs(other, rig.Admin)...)...)
	if err == nil || !strings.Contains(out, "certificate") {
		t.Errorf("raftvip status with another cluster's certificate: %v: %s", err, out)
	}

	t.Log("the monitor port: leadership in plain HTTP, nothing else")
	e.checkMonitor(h)

	t.Log("(d) a node with another cluster's certificates cannot join")
	n4, err := l.AddNode(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	argv := c.Args(n4, "-join", c.JoinAddrs(n4), "-join-timeout", "10s")
	argv = append(argv, rig.CertArgs(other, "n4")...) // later flags win
	e.refused(n4, "certificate", argv...)

	t.Log("(e) a member restarted with another cluster's certificates is refused")
	f := 1 + h%3 // a follower
	e.signal(f, syscall.SIGTERM)
	if code := e.exited(c.Proc(f)); code != 0 {
		t.Fatalf("n%d exited %d after SIGTERM", f, code)
	}
	argv = append(c.Args(f), rig.CertArgs(other, lab.NodeName(h))...)
	e.refused(f, "belongs to another cluster", argv...)
	if _, err := c.Restart(e.ctx, f); err != nil {
		t.Fatal(err)
	}

	e.await("holder, term and voters unchanged", settle, func() error {
		for i := 1; i <= 3; i++ {
			st, err := e.status(i)
			if err != nil {
				return err
			}
			if st.LeaderID != before.LeaderID || st.Term != before.Term || !slices.Equal(st.Voters(), []string{"n1", "n2", "n3"}) {
				return fmt.Errorf("n%d: leader %s term %d voters %v; before: leader %s term %d",
					i, st.LeaderID, st.Term, st.Voters(), before.LeaderID, before.Term)
			}
		}
		return e.holds(h, vip)
	})
}

// TestPlaintextOption: the rig can still run a cluster without TLS, and each
// agent warns that it does.
func TestPlaintextOption(t *testing.T) {
	e := newEnvRig(t, lab.Options{}, rig.NewPlaintext)
	h := e.startCluster()
	if out := e.cli(h, "status"); !strings.Contains(out, "holds the VIPs") {
		t.Errorf("status over plain HTTP:\n%s", out)
	}
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(e.lab.LogPath(i))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("Raft and API traffic is unauthenticated")) {
			t.Errorf("n%d did not warn that it runs in plaintext", i)
		}
	}
}

// dialNS is where TestTLSRefusesOutsiders connects to addr from: the
// intruder namespace, but for a Raft port another member's namespace. The member guard hangs up on a host that
// is no member before TLS is even tried (TestRaftPortRefusesNonMembers), and
// these checks are about what TLS refuses.
func (e *env) dialNS(addr string) string {
	ap := netip.MustParseAddrPort(addr)
	if ap.Port() != rig.RaftPort {
		return e.lab.IntruderNS()
	}
	for i := 1; i <= e.lab.Nodes(); i++ {
		if e.lab.NodeIP(i) != ap.Addr() {
			return e.lab.NodeNS(i)
		}
	}
	return e.lab.IntruderNS()
}

// refusalWait is how long a refused connection may take to be closed by the
// server; a connection still open then was accepted.
const refusalWait = 3 * time.Second

// tlsRefused handshakes with addr from namespace ns with conf and reads: nil when the server refused (an alert or a close), an error when the
// connection was accepted. In TLS 1.3 the client's handshake completes before
// the server has judged the client's certificate, so the read tells.
func (e *env) tlsRefused(ns, addr string, conf *tls.Config) error {
	raw, err := e.dialFrom(ns, addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	conf = conf.Clone()
	conf.ServerName, _, _ = net.SplitHostPort(addr) // node certificates carry their IP
	conn := tls.Client(raw, conf)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(refusalWait))
	if err := conn.Handshake(); err != nil {
		e.t.Logf("%s: handshake refused: %v", addr, err)
		return nil
	}
	if strings.HasSuffix(addr, fmt.Sprintf(":%d", rig.HTTPPort)) {
		// The API answers a request; Raft says nothing until asked.
		fmt.Fprintf(conn, "GET /v1/status HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	}
	_, err = conn.Read(make([]byte, 1))
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("accepted (read: %v)", err)
	}
	e.t.Logf("%s: refused: %v", addr, err)
	return nil
}

// plainRefused sends addr, from namespace ns, plain bytes (an HTTP request, which for Raft is a
// command byte and junk) and wants no answer but a close, or the HTTPS
// server's 400 "HTTP request to an HTTPS server".
func (e *env) plainRefused(ns, addr string) error {
	conn, err := e.dialFrom(ns, addr)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(refusalWait))
	fmt.Fprintf(conn, "GET /v1/status HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	b, err := io.ReadAll(conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("connection still open after %s", refusalWait)
	}
	if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.0 400 Bad Request")) {
		return fmt.Errorf("answered: %q", b)
	}
	e.t.Logf("%s: plain TCP refused: %q, %v", addr, b, err)
	return nil
}

// httpClient is an HTTP client in the intruder namespace, TLS with conf.
func (e *env) httpClient(conf *tls.Config) *http.Client {
	return &http.Client{Timeout: refusalWait, Transport: &http.Transport{
		DialContext: rig.DialIn(e.lab.IntruderNS()), TLSClientConfig: conf, DisableKeepAlives: true}}
}

func (e *env) httpsGet(addr, path string, conf *tls.Config) (int, []byte, error) {
	return e.request(http.MethodGet, "https://"+addr+path, "", conf)
}

func (e *env) postJoin(base, body string, conf *tls.Config) (int, error) {
	code, _, err := e.request(http.MethodPost, base+"/v1/join", body, conf)
	return code, err
}

// request sends one request with the cluster token from the intruder namespace.
func (e *env) request(method, url, body string, conf *tls.Config) (int, []byte, error) {
	req, err := http.NewRequestWithContext(e.ctx, method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+rig.Token)
	resp, err := e.httpClient(conf).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// checkMonitor: node h's monitor port answers GET /v1/leader (200 on the
// holder, 503 elsewhere) and /healthz in plain HTTP, and nothing else.
func (e *env) checkMonitor(h int) {
	e.t.Helper()
	for i := 1; i <= 3; i++ {
		want := http.StatusServiceUnavailable
		if i == h {
			want = http.StatusOK
		}
		url := fmt.Sprintf("http://%s/v1/leader", netip.AddrPortFrom(e.lab.NodeIP(i), monitorPort))
		if code, b, err := e.request(http.MethodGet, url, "", nil); err != nil || code != want {
			e.t.Errorf("GET %s = %d %s (%v), want %d", url, code, b, err, want)
		}
	}
	base := fmt.Sprintf("http://%s", netip.AddrPortFrom(e.lab.NodeIP(h), monitorPort))
	for _, try := range []struct{ method, path, body string }{
		{http.MethodGet, "/healthz", ""},
		{http.MethodGet, "/v1/status", ""},
		{http.MethodPost, "/v1/join", `{"id":"n9","raft_addr":"192.0.2.19:7000","api_addr":"192.0.2.19:8080"}`},
		{http.MethodPost, "/v1/vips", `{"prefix":"192.0.2.150/24"}`},
	} {
		code, b, err := e.request(try.method, base+try.path, try.body, nil)
		want := http.StatusNotFound
		if try.path == "/healthz" {
			want = http.StatusOK
		}
		if err != nil || code != want {
			e.t.Errorf("%s %s on the monitor port = %d %s (%v), want %d", try.method, try.path, code, b, err, want)
		}
	}
}

// TestRaftPortRefusesNonMembers: a certificate of the cluster (the operator's,
// which monitoring and scripts also get) does not make a host a Raft peer:
// the Raft port hangs up on a host that is not a member, while the API on the
// same host accepts the certificate.
func TestRaftPortRefusesNonMembers(t *testing.T) {
	e := newEnvWith(t, lab.Options{Intruder: true})
	h := e.startCluster()
	admin, err := rig.ClientTLS(e.c.TLSDir, rig.Admin)
	if err != nil {
		t.Fatal(err)
	}
	raft := netip.AddrPortFrom(e.lab.NodeIP(h), rig.RaftPort).String()
	if err := e.tlsRefused(e.dialNS(raft), raft, admin); err == nil {
		t.Fatal("control: the Raft port refused the operator's certificate from a member's host: the check below would prove nothing")
	}
	if err := e.tlsRefused(e.lab.IntruderNS(), raft, admin); err != nil {
		t.Fatalf("the Raft port, from the intruder host with the operator's certificate: %v: a non-member may speak Raft", err)
	}
	if code, _, err := e.httpsGet(e.c.APIAddr(h), "/v1/status", admin); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/status with the operator's certificate: %d, %v", code, err)
	}
}
