package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/fsm"
)

// cmpAddrs compares netip values by value, as cmp cannot see their fields.
func cmpAddrs() cmp.Options {
	return cmp.Options{
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	}
}

// TestClientReads also guards the client against a Status field that does not
// survive encoding (the CLI prints what the client decodes), so every field is set.
func TestClientReads(t *testing.T) {
	f := newLeader("n1")
	f.status.LeaderRaftAddr = "192.0.2.11:7000"
	f.status.AppliedIndex, f.status.CommitIndex, f.status.LastIndex = 10, 11, 12
	f.status.LastContact = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	_, ts := serve(t, f, nil)
	c := NewClient(ts.URL, "", nil)
	ctx := context.Background()
	want := f.Status()

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if diff := cmp.Diff(want, st, cmpAddrs()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	ms, err := c.Members(ctx)
	if err != nil {
		t.Fatalf("Members: %v", err)
	}
	if diff := cmp.Diff(want.Members, ms); diff != "" {
		t.Errorf("Members (-want +got):\n%s", diff)
	}
	vs, err := c.VIPs(ctx)
	if err != nil {
		t.Fatalf("VIPs: %v", err)
	}
	if diff := cmp.Diff(want.VIPs, vs, cmpAddrs()); diff != "" {
		t.Errorf("VIPs (-want +got):\n%s", diff)
	}
}

func TestClientWrites(t *testing.T) {
	v := fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.101/24"), Interface: "eth0", Label: "web"}
	join := JoinRequest{ID: "n4", RaftAddr: "192.0.2.14:7000", APIAddr: "192.0.2.14:8080"}
	tests := []struct {
		name string
		do   func(context.Context, *Client) error
		want string
	}{
		{"Join", func(ctx context.Context, c *Client) error { return c.Join(ctx, join) }, "join n4 192.0.2.14:7000 192.0.2.14:8080"},
		{"Leave", func(ctx context.Context, c *Client) error { return c.Leave(ctx, "n3") }, "leave n3"},
		{"Transfer", func(ctx context.Context, c *Client) error { _, err := c.Transfer(ctx, "n2"); return err }, `transfer "n2"`},
		{"Transfer any", func(ctx context.Context, c *Client) error { _, err := c.Transfer(ctx, ""); return err }, `transfer ""`},
		{"AddVIP", func(ctx context.Context, c *Client) error { return c.AddVIP(ctx, v) }, `add-vip 192.0.2.101/24 if="eth0" label="web"`},
		{"ReplaceVIP", func(ctx context.Context, c *Client) error { return c.ReplaceVIP(ctx, v) },
			`replace-vip 192.0.2.101/24 if="eth0" label="web"`},
		{"AddVIP v6", func(ctx context.Context, c *Client) error {
			return c.AddVIP(ctx, fsm.VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64")})
		}, `add-vip 2001:db8::100/64 if="" label=""`},
		{"RemoveVIP", func(ctx context.Context, c *Client) error {
			return c.RemoveVIP(ctx, netip.MustParseAddr("192.0.2.100"))
		}, "remove-vip 192.0.2.100"},
		{"RemoveVIP v6", func(ctx context.Context, c *Client) error {
			return c.RemoveVIP(ctx, netip.MustParseAddr("2001:db8::100"))
		}, "remove-vip 2001:db8::100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLeader("n1")
			_, ts := serve(t, f, nil)
			// host:port form, as the CLI's -addr gives it.
			c := NewClient(strings.TrimPrefix(ts.URL, "http://"), testToken, nil)
			if err := tt.do(context.Background(), c); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if diff := cmp.Diff([]string{tt.want}, f.Calls()); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}

			// The same call with a wrong token and without one is refused
			// with ErrUnauthorized and changes nothing.
			for _, tok := range []string{"wrong", ""} {
				err := tt.do(context.Background(), NewClient(ts.URL, tok, nil))
				var apiErr *Error
				if !errors.Is(err, ErrUnauthorized) || !errors.As(err, &apiErr) || apiErr.Status != 401 {
					t.Errorf("token %q: err = %v, want ErrUnauthorized as *Error 401", tok, err)
				}
			}
			if got := len(f.Calls()); got != 1 {
				t.Errorf("refused calls reached the cluster: %q", f.Calls())
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	f := newLeader("n1")
	f.err = fmt.Errorf("remove-vip: %w: 192.0.2.9", fsm.ErrNoSuchVIP)
	_, ts := serve(t, f, nil)
	err := NewClient(ts.URL, testToken, nil).RemoveVIP(context.Background(), netip.MustParseAddr("192.0.2.9"))
	want := &Error{Status: 404, Message: "remove-vip: no such VIP: 192.0.2.9"}
	var got *Error
	if !errors.As(err, &got) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	if errors.Is(err, ErrUnauthorized) {
		t.Error("a 404 matches ErrUnauthorized")
	}
	if s := err.Error(); s != "remove-vip: no such VIP: 192.0.2.9 (HTTP 404)" {
		t.Errorf("Error() = %q", s)
	}

	// Something other than the API (a proxy, say) answering plain text.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "upstream\nunavailable", http.StatusBadGateway)
	}))
	defer proxy.Close()
	_, err = NewClient(proxy.URL, "", nil).Status(context.Background())
	if diff := cmp.Diff(&Error{Status: 502, Message: "Bad Gateway: upstream unavailable"}, err); diff != "" {
		t.Errorf("plain-text error (-want +got):\n%s", diff)
	}
}

// TestClientRetriesAtLeader: a write whose forward found leadership moved is
// answered 421 with the new leader's address; the client goes there, once.
func TestClientRetriesAtLeader(t *testing.T) {
	l := startLeader(t)
	// n2 believes n3 leads, and n3 (which has lost leadership to n1) guards
	// against forwarding again: n2 relays n3's 421 naming n1.
	_, n3 := serve(t, newFollower("n3", "n1", l.addr()), nil)
	_, n2 := serve(t, newFollower("n2", "n3", strings.TrimPrefix(n3.URL, "http://")), nil)

	if err := NewClient(n2.URL, testToken, nil).Leave(context.Background(), "n4"); err != nil {
		t.Fatalf("Leave via n2: %v", err)
	}
	if diff := cmp.Diff([]string{"leave n4"}, l.fake.Calls()); diff != "" {
		t.Errorf("leader calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{""}, l.forwardedBy()); diff != "" {
		t.Errorf("the client's retry should reach the leader directly (-want +got):\n%s", diff)
	}
}

func TestClientRetriesOnlyOnce(t *testing.T) {
	// Two nodes that each name the other as leader: a cluster in flux.
	var hits atomic.Int32
	var a, b *httptest.Server
	pointTo := func(other **httptest.Server) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			hits.Add(1)
			writeJSON(w, http.StatusMisdirectedRequest, errorBody{Error: "not the leader", LeaderAPIAddr: (*other).URL})
		}
	}
	a = httptest.NewServer(pointTo(&b))
	defer a.Close()
	b = httptest.NewServer(pointTo(&a))
	defer b.Close()

	_, err := NewClient(a.URL, testToken, nil).Transfer(context.Background(), "")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusMisdirectedRequest {
		t.Errorf("err = %v, want *Error 421", err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("servers hit %d times, want 2 (one try, one retry)", n)
	}
}

func TestNewClientAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"[2001:db8::1]:8080", "http://[2001:db8::1]:8080"},
		{"http://192.0.2.11:8080/", "http://192.0.2.11:8080"},
		{"https://raftvip.example:8443", "https://raftvip.example:8443"},
	}
	for _, tt := range tests {
		if got := NewClient(tt.in, "", nil).base; got != tt.want {
			t.Errorf("NewClient(%q).base = %q, want %q", tt.in, got, tt.want)
		}
	}
}
