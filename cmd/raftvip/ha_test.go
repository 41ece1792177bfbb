package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
)

func TestNodeHealth(t *testing.T) {
	tests := []struct {
		name string
		r    health.Report
		want cluster.Health
	}{
		{"no checks", health.Report{Healthy: true}, cluster.Health{Known: true, Healthy: true}},
		{"first results pending", health.Report{Healthy: true, Pending: true}, cluster.Health{Healthy: true}},
		{"a failing check is known even while another is pending", health.Report{Pending: true, Failing: []string{"web"},
			Checks: []health.CheckStatus{{Name: "web", LastError: "exit status 1"}, {Name: "db", Pending: true}}},
			cluster.Health{Known: true, Fault: "check web failing: exit status 1"}},
		{"two failing", health.Report{Failing: []string{"web", "db"},
			Checks: []health.CheckStatus{{Name: "web"}, {Name: "db", LastError: "connection refused"}}},
			cluster.Health{Known: true, Fault: "check web failing; check db failing: connection refused"}},
	}
	for _, tt := range tests {
		if got := nodeHealth(tt.r); got != tt.want {
			t.Errorf("%s: nodeHealth = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	long := nodeHealth(health.Report{Checks: []health.CheckStatus{{Name: "web", LastError: strings.Repeat("é", 400)}}})
	if err := fsm.ValidateFault(long.Fault); err != nil || !strings.HasSuffix(long.Fault, "...") {
		t.Errorf("long fault not cut to what the API accepts (%v): %d bytes", err, len(long.Fault))
	}
}

func TestChecksInConfig(t *testing.T) {
	file := writeFile(t, "raftvip.yaml", `
checks:
  - name: web
    exec: /bin/true
    interval: 500ms
  - name: uplink
    interface: eth0
`)
	cfg, err := parseAgentConfig(append(validBase(), "-config", file), env(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid checks refused: %v", err)
	}
	if len(cfg.Checks) != 2 || cfg.Checks[0].Exec != "/bin/true" || cfg.Checks[1].Interface != "eth0" {
		t.Fatalf("checks = %+v", cfg.Checks)
	}
	bad := writeFile(t, "bad.yaml", "checks:\n  - name: web\n    exec: /bin/true\n    interval: 1s\n    timeout: 3s\n")
	cfg, err = parseAgentConfig(append(validBase(), "-config", bad), env(nil), nil)
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil || !strings.Contains(err.Error(), `check "web": timeout 3s is longer than interval 1s`) {
		t.Fatalf("error = %v, want the bad check named", err)
	}
}

// The agent's loader refuses, with the line and the name, a misspelt key
// inside a check and a value that is not a duration: health.Check has no
// unmarshaler of its own, so KnownFields and yaml.v3's duration rule reach it.
func TestBadCheckInConfigFile(t *testing.T) {
	for _, tc := range []struct{ check, want string }{
		{"    fal: 3\n", "line 5: field fal not found in type health.Check"},
		{"    interval: soon\n", "line 5: cannot unmarshal !!str `soon` into time.Duration"},
		{"    timeout: 2\n", "line 5: cannot unmarshal !!int `2` into time.Duration"},
	} {
		file := writeFile(t, "raftvip.yaml", "vip: 192.0.2.10/24\nchecks:\n  - name: web\n    exec: /bin/true\n"+tc.check)
		_, err := parseAgentConfig(append(validBase(), "-config", file), env(nil), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error = %v, want %q", tc.check, err, tc.want)
		}
	}
}

func TestRestartOnly(t *testing.T) {
	old := defaultConfig()
	new := old
	new.LogLevel, new.GARPCount, new.NotifyMaster = "debug", 5, "/bin/true"
	if got := restartOnly(old, new); len(got) != 0 {
		t.Errorf("reloadable changes named as restart-only: %v", got)
	}
	new.DataDir, new.Priority = "/elsewhere", 150
	if got := restartOnly(old, new); strings.Join(got, ",") != "data-dir,priority" {
		t.Errorf("restartOnly = %v, want [data-dir priority]", got)
	}
	// The TLS identity and the listeners are set up once, at start.
	for name, change := range map[string]func(*Config){
		"tls-cert":           func(c *Config) { c.TLSCert = "/etc/raftvip/tls/new.pem" },
		"tls-key":            func(c *Config) { c.TLSKey = "/etc/raftvip/tls/new-key.pem" },
		"tls-ca":             func(c *Config) { c.TLSCA = "/etc/raftvip/tls/new-ca.pem" },
		"insecure-plaintext": func(c *Config) { c.InsecurePlaintext = true },
		"monitor-addr":       func(c *Config) { c.MonitorAddr = "192.0.2.11:8081" },
		"ui-addr":            func(c *Config) { c.UIAddr = "192.0.2.11:8090" },
		"ui-token-file":      func(c *Config) { c.UITokenFile = "/etc/raftvip/ui-token" },
	} {
		new := old
		change(&new)
		if got := restartOnly(old, new); !slices.Equal(got, []string{name}) {
			t.Errorf("%s changed: restartOnly = %v, want [%s]", name, got, name)
		}
	}
}
