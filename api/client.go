package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// Client calls one node's API. Writes sent to a follower are forwarded to the
// leader by the follower; when that fails because leadership moved, the client
// retries once at the leader the answer names.
type Client struct {
	scheme string // of addresses given as host:port: "http" or "https"
	base   string
	token  string
	hc     *http.Client
}

// maxAnswer bounds what the client reads of an answer; a status with every
// member and VIP is a few KiB.
const maxAnswer = 4 << 20

// NewClient returns a client for addr, "host:port" or a full URL
// ("https://host:port"). token is needed for writes only and may be empty for
// reads. With conf (pki.Identity.TLSConfig) it speaks HTTPS, presenting the
// certificate in conf and verifying the node's; with conf nil, plain HTTP.
// Answers time out after 30 s, which the caller's context may shorten, and
// redirects are not followed (HTTPClient).
func NewClient(addr, token string, conf *tls.Config) *Client {
	scheme := "http"
	if conf != nil {
		scheme = "https"
	}
	return &Client{scheme: scheme, base: baseURL(scheme, addr), token: token, hc: HTTPClient(conf, 30*time.Second)}
}

// At returns a client for addr with c's token and TLS configuration that
// shares c's connections: calls to several nodes, or many calls over time,
// reuse idle connections instead of leaving one open per client until the
// server's idle timeout closes it.
func (c *Client) At(addr string) *Client {
	return &Client{scheme: c.scheme, base: baseURL(c.scheme, addr), token: c.token, hc: c.hc}
}

// HTTPClient is an http.Client for calls between nodes: over TLS with conf
// when conf is set, and never following redirects (a redirect would carry the
// token to wherever it points).
func HTTPClient(conf *tls.Config, timeout time.Duration) *http.Client {
	hc := &http.Client{
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if conf != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = conf
		hc.Transport = t
	}
	return hc
}

// baseURL turns an API address into a URL prefix without a trailing slash.
// Members record plain host:port, which means scheme: https in a TLS cluster.
func baseURL(scheme, addr string) string {
	if !strings.Contains(addr, "://") {
		addr = scheme + "://" + addr
	}
	return strings.TrimRight(addr, "/")
}

// Status returns the node's view of the cluster.
func (c *Client) Status(ctx context.Context) (cluster.Status, error) {
	var st cluster.Status
	err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// Members returns the Raft configuration with each member's API address.
func (c *Client) Members(ctx context.Context) ([]cluster.Member, error) {
	var b membersBody
	err := c.do(ctx, http.MethodGet, "/v1/members", nil, &b)
	return b.Members, err
}

// VIPs returns the replicated VIP set.
func (c *Client) VIPs(ctx context.Context) ([]fsm.VIP, error) {
	l, err := c.VIPList(ctx)
	return l.VIPs, err
}

// VIPList returns the replicated VIP set and its owner.
func (c *Client) VIPList(ctx context.Context) (VIPList, error) {
	var l VIPList
	err := c.do(ctx, http.MethodGet, "/v1/vips", nil, &l)
	return l, err
}

// Join asks the cluster to add req's node as a voter. It is idempotent.
func (c *Client) Join(ctx context.Context, req JoinRequest) error {
	return c.do(ctx, http.MethodPost, "/v1/join", req, nil)
}

// Leave asks the cluster to remove node id.
func (c *Client) Leave(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodPost, "/v1/leave", idRequest{ID: id}, nil)
}

// Transfer asks the leader to hand leadership to id, or to any up-to-date
// follower when id is "". The answer's Message says what happened: a
// transfer to the node that already leads changes nothing.
func (c *Client) Transfer(ctx context.Context, id string) (WriteAnswer, error) {
	var a WriteAnswer
	err := c.do(ctx, http.MethodPost, "/v1/transfer", idRequest{ID: id}, &a)
	return a, err
}

// AddVIP adds v to the VIP set. A VIP with its address and another prefix
// length or interface is not replaced: the answer is 409 (ReplaceVIP does).
func (c *Client) AddVIP(ctx context.Context, v fsm.VIP) error {
	return c.do(ctx, http.MethodPost, "/v1/vips", v, nil)
}

// ReplaceVIP adds v, replacing the VIP with its address even if that one has
// another prefix length or interface (which AddVIP refuses).
func (c *Client) ReplaceVIP(ctx context.Context, v fsm.VIP) error {
	req := vipRequest{Prefix: v.Prefix.String(), Interface: v.Interface, Label: v.Label, Replace: true}
	return c.do(ctx, http.MethodPost, "/v1/vips", req, nil)
}

// RemoveVIP removes the VIP with address a.
func (c *Client) RemoveVIP(ctx context.Context, a netip.Addr) error {
	// PathEscape keeps an IPv6 zone's '%' from being read as an escape.
	return c.do(ctx, http.MethodDelete, "/v1/vips/"+url.PathEscape(a.String()), nil, nil)
}

// do sends one request and decodes a 2xx answer into out (if not nil). A write
// answered 421 or 503 with the leader's address (a forward that found leadership
// moved) is retried once there; once, so that a cluster in flux cannot bounce
// the request around.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
	}
	code, data, err := c.roundTrip(ctx, c.base, method, path, payload)
	if err != nil {
		return err
	}
	if method != http.MethodGet {
		if leader := retryAt(code, data); leader != "" && baseURL(c.scheme, leader) != c.base {
			if code, data, err = c.roundTrip(ctx, baseURL(c.scheme, leader), method, path, payload); err != nil {
				return err
			}
		}
	}
	if code/100 != 2 {
		return answerError(code, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// roundTrip sends one request to base and returns the status and the body.
func (c *Client) roundTrip(ctx context.Context, base, method, path string, payload []byte) (int, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// The token goes with writes only: reads need none, and the fewer requests
	// carry it the fewer places it can leak from.
	if method != http.MethodGet && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err // *url.Error already names the method and URL.
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read answer: %w", method, base+path, err)
	}
	return resp.StatusCode, data, nil
}

// retryAt returns the leader address an answer points to, if it is one the
// client should retry at.
func retryAt(code int, data []byte) string {
	if code != http.StatusMisdirectedRequest && code != http.StatusServiceUnavailable {
		return ""
	}
	var b errorBody
	if json.Unmarshal(data, &b) != nil {
		return ""
	}
	return b.LeaderAPIAddr
}

// answerError turns a non-2xx answer into *Error, with the server's message, or
// the status text and the start of the body when it is not the API's JSON.
func answerError(code int, data []byte) error {
	var b errorBody
	if json.Unmarshal(data, &b) == nil && b.Error != "" {
		return &Error{Status: code, Message: b.Error}
	}
	msg := http.StatusText(code)
	if text := oneLine(string(data)); text != "" {
		msg += ": " + text[:min(len(text), 200)]
	}
	return &Error{Status: code, Message: msg}
}
