package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/fsm"
)

// FuzzWrite sends arbitrary bodies (and, for DELETE /v1/vips/{addr}, arbitrary
// addresses) with the right token to every write endpoint of a leader; the
// seed corpus is in testdata/fuzz/FuzzWrite. Whatever the input, the server
// must not panic or answer 5xx, must explain a refusal in a JSON error, and
// must reach the cluster only with a request that is valid, and then exactly
// once with what the request said.
func FuzzWrite(f *testing.F) {
	f.Fuzz(func(t *testing.T, endpoint byte, body []byte, addr string) {
		w := writes()[int(endpoint)%len(writes())]
		fake := newLeader("n1")
		s, err := NewServer(ServerConfig{Cluster: fake, Token: []byte(testToken)})
		if err != nil {
			t.Fatal(err)
		}
		path := w.path
		if w.method == http.MethodDelete {
			path = "/v1/vips/" + url.PathEscape(addr)
		}
		req := httptest.NewRequest(w.method, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)

		code := rec.Code
		if code >= 500 {
			t.Fatalf("%s %s with %q: HTTP %d %s", w.method, path, body, code, rec.Body)
		}
		calls := fake.Calls()
		if code != http.StatusOK {
			var e struct{ Error string }
			// A 3xx is the mux redirecting a path with "." or ".." in it to
			// its clean form: no handler ran.
			if code >= 400 && (json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "") {
				t.Errorf("HTTP %d without a JSON error: %q", code, rec.Body)
			}
			if len(calls) > 0 {
				t.Fatalf("refused with %d, yet the cluster saw %q", code, calls)
			}
			return
		}
		if len(calls) != 1 {
			t.Fatalf("%s %s with %q: HTTP 200 after cluster calls %q, want exactly one", w.method, path, body, calls)
		}
		if err := validCall(w.name, body, addr, calls[0]); err != nil {
			t.Fatalf("%s %s with %q reached the cluster as %q: %v", w.method, path, body, calls[0], err)
		}
	})
}

// validCall checks, independently of the server's parsers, that the cluster
// call made for a request to endpoint name was warranted: the body is one
// JSON object of that endpoint's fields (matched as encoding/json does,
// regardless of case) and the call carries valid values that the request gave.
func validCall(name string, body []byte, addr, call string) error {
	fields := map[string][]string{
		"join": {"id", "raft_addr", "api_addr"}, "leave": {"id"}, "transfer": {"id"},
		"add vip": {"prefix", "interface", "label"},
	}[name]
	if fields != nil && !(name == "transfer" && len(bytes.TrimSpace(body)) == 0) {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return fmt.Errorf("body is not a JSON object: %w", err)
		}
		for k := range m {
			if !containsFold(fields, k) {
				return fmt.Errorf("unknown field %q", k)
			}
		}
	}
	verb, args, _ := strings.Cut(call, " ")
	if want := strings.ReplaceAll(name, " ", "-"); verb != want {
		return fmt.Errorf("call %q, want %s", verb, want)
	}
	switch name {
	case "join":
		f := strings.Fields(args)
		if len(f) != 3 {
			return fmt.Errorf("join with %d values", len(f))
		}
		if err := fsm.ValidateNodeID("id", f[0]); err != nil {
			return err
		}
		for _, hp := range f[1:] {
			host, port, err := net.SplitHostPort(hp)
			if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				return fmt.Errorf("address %q is not host:port", hp)
			}
		}
	case "leave":
		return fsm.ValidateNodeID("id", args)
	case "transfer":
		id, err := strconv.Unquote(args)
		if err != nil || id == "" {
			return err
		}
		return fsm.ValidateNodeID("id", id)
	case "add vip":
		prefix, rest, _ := strings.Cut(args, " if=")
		iface, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return err
		}
		label, err := strconv.Unquote(strings.TrimPrefix(rest[len(iface):], " label="))
		if err != nil {
			return err
		}
		v, err := fsm.ParseVIP(prefix)
		if err != nil {
			return err
		}
		v.Interface, _ = strconv.Unquote(iface)
		v.Label = label
		return fsm.ValidateVIP(v)
	case "remove vip":
		want, err := ParseVIPAddr(addr)
		if err != nil {
			return err
		}
		if args != want.String() {
			return fmt.Errorf("removes %s, the request named %q", args, addr)
		}
	}
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
