package rig

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
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
