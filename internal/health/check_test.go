package health

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// contract is the checks list of the config contract.
const contract = `
checks:
  - name: web
    exec: "/usr/bin/pgrep -x nginx"
  - name: api
    http: "http://127.0.0.1:8080/healthz"
    status: 204
  - name: db
    tcp: "127.0.0.1:5432"
    interval: 500ms
  - name: uplink
    interface: eth0
    interval: 2s
    timeout: 1s
    rise: 3
    fall: 1
`

func TestUnmarshalYAML(t *testing.T) {
	var cfg struct {
		Checks []Check `yaml:"checks"`
	}
	if err := yaml.Unmarshal([]byte(contract), &cfg); err != nil {
		t.Fatal(err)
	}
	want := []Check{
		{Name: "web", Exec: "/usr/bin/pgrep -x nginx"},
		{Name: "api", HTTP: "http://127.0.0.1:8080/healthz", Status: 204},
		{Name: "db", TCP: "127.0.0.1:5432", Interval: 500 * time.Millisecond},
		{Name: "uplink", Interface: "eth0", Interval: 2 * time.Second, Timeout: time.Second, Rise: 3, Fall: 1},
	}
	if diff := cmp.Diff(want, cfg.Checks); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	if _, err := Prepare(cfg.Checks); err != nil {
		t.Errorf("Prepare: %v", err)
	}
}

// Check has no unmarshaler of its own: yaml.v3 reads "2s" into a
// time.Duration and refuses what is not one, and a decoder's KnownFields
// reaches into the checks list (the agent's loader, cmd/raftvip, sets it).
func TestUnmarshalYAMLErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"- name: web\n  exec: true\n  intervall: 2s\n", "line 3: field intervall not found in type health.Check"},
		{"- name: web\n  exec: true\n  interval: 2\n", "line 3: cannot unmarshal !!int `2` into time.Duration"},
		{"- name: web\n  exec: true\n  timeout: soon\n", "line 3: cannot unmarshal !!str `soon` into time.Duration"},
		{"- web\n", "line 1: cannot unmarshal !!str `web` into health.Check"},
		{"- name: web\n  rise: many\n", "cannot unmarshal"},
	} {
		var checks []Check
		dec := yaml.NewDecoder(strings.NewReader(tc.doc))
		dec.KnownFields(true)
		err := dec.Decode(&checks)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestWithDefaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want Check
	}{
		{"exec", Check{Exec: "x"}, Check{Exec: "x", Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2}},
		{"http gets status 200", Check{HTTP: "http://h/"}, Check{HTTP: "http://h/", Status: 200, Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 2}},
		{"timeout capped by a short interval", Check{TCP: "h:1", Interval: 300 * time.Millisecond}, Check{TCP: "h:1", Interval: 300 * time.Millisecond, Timeout: 300 * time.Millisecond, Rise: 2, Fall: 2}},
		{"set fields kept", Check{Exec: "x", Interval: time.Minute, Timeout: 5 * time.Second, Rise: 1, Fall: 4}, Check{Exec: "x", Interval: time.Minute, Timeout: 5 * time.Second, Rise: 1, Fall: 4}},
	} {
		if diff := cmp.Diff(tc.want, tc.in.WithDefaults()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Check{Name: "web", Exec: "true"}.WithDefaults()
	edit := func(f func(*Check)) Check {
		c := ok
		f(&c)
		return c
	}
	for _, tc := range []struct {
		c    Check
		want string
	}{
		{ok, ""},
		{edit(func(c *Check) { c.Name = "" }), "check: name is required"},
		{edit(func(c *Check) { c.Name = "Web" }), `check "Web": name must match [a-z0-9_-]+`},
		{edit(func(c *Check) { c.Exec = "" }), `check "web": no probe: set one of exec, http, tcp, interface`},
		{edit(func(c *Check) { c.Exec = "  " }), `check "web": no probe`},
		{edit(func(c *Check) { c.TCP = "h:1" }), `check "web": has exec and tcp: set exactly one of exec, http, tcp, interface`},
		{edit(func(c *Check) { c.Timeout = 3 * time.Second }), `check "web": timeout 3s is longer than interval 2s`},
		{edit(func(c *Check) { c.Timeout = -time.Second }), `check "web": timeout -1s must be positive`},
		{edit(func(c *Check) { c.Interval = 0 }), `check "web": interval 0s must be positive`},
		{edit(func(c *Check) { c.Rise = 0 }), `check "web": rise 0 must be at least 1`},
		{edit(func(c *Check) { c.Fall = -1 }), `check "web": fall -1 must be at least 1`},
		{edit(func(c *Check) { c.Status = 200 }), `check "web": status 200 is for http checks only`},
		{edit(func(c *Check) { c.Exec, c.HTTP, c.Status = "", "ftp://h/", 200 }), `check "web": http "ftp://h/": scheme must be http or https`},
		{edit(func(c *Check) { c.Exec, c.HTTP, c.Status = "", "http:///x", 200 }), `check "web": http "http:///x": no host`},
		{edit(func(c *Check) { c.Exec, c.HTTP, c.Status = "", "http://h/%zz", 200 }), `check "web": http "http://h/%zz": parse`},
		{edit(func(c *Check) { c.Exec, c.HTTP, c.Status = "", "https://h:8443/x", 999 }), `check "web": status 999 is not an HTTP status code`},
		{edit(func(c *Check) { c.Exec, c.HTTP, c.Status = "", "https://h:8443/x", 204 }), ""},
		{edit(func(c *Check) { c.Exec, c.TCP = "", "127.0.0.1" }), `check "web": tcp "127.0.0.1": want host:port`},
		{edit(func(c *Check) { c.Exec, c.TCP = "", "db:pg" }), `check "web": tcp "db:pg": port "pg" is not a number`},
		{edit(func(c *Check) { c.Exec, c.TCP = "", "[2001:db8::1]:5432" }), ""},
		{edit(func(c *Check) { c.Exec, c.Interface = "", "a-very-long-ifname0" }), `check "web": interface "a-very-long-ifname0" is not a valid interface name`},
		{edit(func(c *Check) { c.Exec, c.Interface = "", "eth0" }), ""},
	} {
		got := ""
		if err := tc.c.Validate(); err != nil {
			got = err.Error()
		}
		if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%+v: err = %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestPrepare(t *testing.T) {
	web := Check{Name: "web", Exec: "true"}
	db := Check{Name: "db", TCP: "h:1"}
	for _, tc := range []struct {
		checks []Check
		want   string
	}{
		{nil, ""},
		{[]Check{web, db}, ""},
		{[]Check{web, db, web}, `check "web": name is used twice`},
		{[]Check{web, {Exec: "true"}}, "checks[1]: check: name is required"},
		{[]Check{web, {Name: "db"}}, `check "db": no probe`},
	} {
		got := ""
		full, err := Prepare(tc.checks)
		if err != nil {
			got = err.Error()
		}
		if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
			t.Errorf("Prepare = %q, want %q", got, tc.want)
		}
		if err == nil && len(full) != len(tc.checks) {
			t.Fatalf("Prepare returned %d checks, want %d", len(full), len(tc.checks))
		}
		for i := range full {
			if full[i] != tc.checks[i].WithDefaults() {
				t.Errorf("Prepare returned %+v, want the defaults applied", full[i])
			}
		}
	}
}
