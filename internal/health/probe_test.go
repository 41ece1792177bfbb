package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func probe(t *testing.T, c Check) error {
	t.Helper()
	c.Name = "t"
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := NewProber(c)
	if err != nil {
		t.Fatal(err)
	}
	return p.Probe(context.Background())
}

func TestExecProbe(t *testing.T) {
	if err := probe(t, Check{Exec: "true"}); err != nil {
		t.Errorf("true: %v", err)
	}
	err := probe(t, Check{Exec: "echo nginx is not running >&2; false"})
	if err == nil || !strings.Contains(err.Error(), "exit status 1: nginx is not running") {
		t.Errorf("false: %v, want the exit status and the output", err)
	}
}

// A hung script is killed at the timeout and reported as timed out.
func TestExecProbeTimeout(t *testing.T) {
	err := probe(t, Check{Exec: "sleep 10", Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), "timed out after 100ms") {
		t.Errorf("err = %q, want it to name the timeout", err)
	}
}

// Cancelling the monitor is not a timeout of the check.
func TestExecProbeCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p, err := NewProber(Check{Name: "t", Exec: "sleep 10"}.WithDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Probe(ctx); err == nil || errors.Is(err, ErrTimeout) {
		t.Errorf("err = %v, want a cancellation error", err)
	}
}

func TestHTTPProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("fine"))
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/created":
			w.WriteHeader(http.StatusCreated)
		case "/slow":
			<-r.Context().Done()
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		path    string
		status  int
		timeout time.Duration
		wantErr string
	}{
		{path: "/ok"},
		{path: "/down", wantErr: "status 503, want 200"},
		{path: "/moved", wantErr: "status 302, want 200"},
		{path: "/created", status: 201},
		{path: "/slow", timeout: 100 * time.Millisecond, wantErr: "timed out after 100ms"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			err := probe(t, Check{HTTP: srv.URL + tc.path, Status: tc.status, Timeout: tc.timeout})
			if tc.wantErr == "" && err != nil {
				t.Errorf("err = %v, want nil", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestTCPProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := probe(t, Check{TCP: addr}); err != nil {
		t.Errorf("listening: %v", err)
	}
	ln.Close()
	if err := probe(t, Check{TCP: addr}); err == nil {
		t.Errorf("closed listener: healthy, want failing")
	}
}

func TestInterfaceProbe(t *testing.T) {
	if err := probe(t, Check{Interface: "lo"}); err != nil {
		t.Errorf("lo: %v", err)
	}
	err := probe(t, Check{Interface: "rvnosuch0"})
	if err == nil || !strings.Contains(err.Error(), "rvnosuch0") {
		t.Errorf("missing interface: %v, want an error naming it", err)
	}
}

func TestLinkState(t *testing.T) {
	for _, tc := range []struct {
		flags net.Flags
		want  string
	}{
		{net.FlagUp | net.FlagRunning, ""},
		{net.FlagUp, "interface eth0 has no carrier"},
		{net.FlagRunning, "interface eth0 is down"},
		{0, "interface eth0 is down"},
	} {
		got := ""
		if err := linkState("eth0", tc.flags); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("linkState(%v) = %q, want %q", tc.flags, got, tc.want)
		}
	}
}
