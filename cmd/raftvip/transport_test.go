package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/api"
)

// serveOnce listens on loopback and handles every connection with h until
// the test ends; the accept loop and the handlers end before it returns.
func serveOnce(t *testing.T, h func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); _ = c.SetDeadline(time.Now().Add(5 * time.Second)); h(c) })
		}
	})
	return ln.Addr().String()
}

// testTLS returns a server and a client TLS configuration that trust each other.
func testTLS(t *testing.T) (server, client *tls.Config) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	server = ts.TLS.Clone()
	client = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	ts.Close()
	return server, client
}

// TestNotHTTPIsNamed: each way a port that does not speak HTTP answers the
// client is named as the likely Raft port, as raft's transport gives them:
// without TLS, with TLS, and with TLS and the member guard open (the
// handshake succeeds, with ALPN h2, and the connection is closed).
func TestNotHTTPIsNamed(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	// Reading what the client sent first (one segment on loopback) makes
	// the close an orderly end rather than a reset.
	readThen := func(f func(net.Conn)) func(net.Conn) {
		return func(c net.Conn) { _, _ = c.Read(make([]byte, 64<<10)); f(c) }
	}
	for _, tt := range []struct {
		name string
		tls  bool
		h    func(net.Conn)
	}{
		{"plain, hangs up", false, readThen(func(net.Conn) {})},
		{"plain, answers bytes that are not HTTP", false, readThen(func(c net.Conn) { _, _ = c.Write([]byte("\x00\x01raft\r\n\r\n")) })},
		{"plain, resets", false, func(c net.Conn) { _ = c.(*net.TCPConn).SetLinger(0) }},
		{"TLS, hangs up in the handshake", true, readThen(func(net.Conn) {})},
		{"TLS, answers bytes that are not TLS", true, readThen(func(c net.Conn) { _, _ = c.Write([]byte("\x00\x01raft\r\n\r\n")) })},
		{"TLS, a record cut short", true, readThen(func(c net.Conn) { _, _ = c.Write([]byte("\x16\x03\x03\x00\x40\x02")) })},
		{"TLS with h2, closed after the handshake", true, func(c net.Conn) {
			conf := srvTLS.Clone()
			conf.NextProtos = []string{"h2"}
			s := tls.Server(c, conf)
			_ = s.Handshake()
			s.Close()
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveOnce(t, tt.h)
			var conf *tls.Config
			if tt.tls {
				conf = cliTLS
			}
			_, err := api.NewClient(addr, "", conf).Status(t.Context())
			if err == nil {
				t.Fatal("status answered")
			}
			t.Log(err)
			if !notHTTP(err) {
				t.Fatalf("%v (%T) is not recognised as an answer that is not HTTP", err, errors.Unwrap(err))
			}
			if got := explainTransport(err, addr).Error(); !strings.Contains(got, "is that the Raft port?") {
				t.Fatalf("explained as %q", got)
			}
		})
	}
}

// TestNotHTTPForms: every form of error net/http returns for a peer that
// does not speak HTTP, as it makes them (some only arise in a race the
// live test cannot force).
func TestNotHTTPForms(t *testing.T) {
	get := func(err error) error {
		return &url.Error{Op: "Get", URL: "https://192.0.2.11:7000/v1/status", Err: err}
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	for _, err := range []error{
		get(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
		get(io.EOF),
		get(fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", io.ErrUnexpectedEOF)),
		get(reset),
		// The peer closed while the request was being written.
		get(&net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)}),
		get(errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x00\x01raft"`)),
		get(errors.New("http: server gave HTTP response to HTTPS client")),
		get(errors.New("http2: client conn could not be established")),
	} {
		if !notHTTP(err) {
			t.Errorf("%v is not recognised as an answer that is not HTTP", err)
		}
	}
}

// TestHTTPErrorsAreNotRaftPort: an API error, a refused connection or a
// timeout says nothing about the port being Raft's.
func TestHTTPErrorsAreNotRaftPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := api.NewClient(closed, "", nil).Status(t.Context())
	for _, err := range []error{
		&api.Error{Status: 503, Message: "no leader"},
		refused,
		context.DeadlineExceeded,
		errors.New("dial tcp: lookup nosuchhost: no such host"),
	} {
		if err == nil || notHTTP(err) || explainTransport(err, "x") != err {
			t.Errorf("%v is taken for an answer that is not HTTP", err)
		}
	}
	if notHTTP(io.EOF) != true {
		t.Error("io.EOF is not recognised")
	}
}
