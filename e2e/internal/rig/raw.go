package rig

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Raw access to the API, for tests that send what the raftvip client never
// would. Everything here is derived from the rig's own HTTP client, so it
// speaks whatever that client speaks (HTTPS included) without changes here.

// HTTPClient is the client the rig talks to the API with, from the client
// namespace.
func (c *Cluster) HTTPClient() *http.Client { return c.http }

// BaseURL is node i's API root, e.g. "http://192.0.2.11:8080".
func (c *Cluster) BaseURL(i int) string { return c.scheme() + "://" + c.APIAddr(i) }

// scheme is "https" when the rig's client is set up for TLS.
func (c *Cluster) scheme() string {
	if c.tlsConfig() != nil {
		return "https"
	}
	return "http"
}

func (c *Cluster) tlsConfig() *tls.Config {
	if t, ok := c.http.Transport.(*http.Transport); ok {
		return t.TLSClientConfig
	}
	return nil
}

// HTTPClientFrom is HTTPClient dialing from namespace ns instead (the lab's
// intruder, say), with the same TLS settings and timeout.
func (c *Cluster) HTTPClientFrom(ns string) (*http.Client, error) {
	t, ok := c.http.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("rig HTTP transport is %T, want *http.Transport", c.http.Transport)
	}
	t = t.Clone()
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return DialIn(ns)(ctx, network, addr)
	}
	return &http.Client{Timeout: c.http.Timeout, Transport: t}, nil
}

// DialAPI opens a connection to node i's API from namespace ns, over TLS
// when the rig speaks HTTPS (handshake done), so a test can write raw HTTP.
func (c *Cluster) DialAPI(ctx context.Context, ns string, i int) (net.Conn, error) {
	conn, err := DialIn(ns)(ctx, "tcp", c.APIAddr(i))
	if err != nil {
		return nil, err
	}
	cfg := c.tlsConfig()
	if cfg == nil {
		return conn, nil
	}
	cfg = cfg.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = c.Lab.NodeIP(i).String()
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS to n%d's API: %w", i, err)
	}
	return tc, nil
}

// Call sends method path with body (nil: none) to node i's API with the
// cluster token, as the raftvip client does for a write, and returns the
// status code and the body of the answer, whatever the code.
func (c *Cluster) Call(ctx context.Context, i int, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL(i)+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// Metric reads the value of the unlabelled metric name from node i's
// /metrics (Prometheus text format).
func (c *Cluster) Metric(ctx context.Context, i int, name string) (float64, error) {
	code, body, err := c.Call(ctx, i, http.MethodGet, "/metrics", nil)
	if err != nil {
		return 0, err
	}
	if code != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics on n%d: HTTP %d", i, code)
	}
	return MetricValue(body, name)
}

// MetricValue finds the sample "name value" in a Prometheus text page.
func MetricValue(page []byte, name string) (float64, error) {
	sc := bufio.NewScanner(bytes.NewReader(page))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}
