package agent

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

func TestRestartOnly(t *testing.T) {
	old := DefaultConfig()
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

func TestStartsAsBackup(t *testing.T) {
	for _, tt := range []struct {
		name   string
		owner  fsm.Owner
		leader bool
		want   bool
	}{
		{"follows another holder", fsm.Owner{Node: "n1", Term: 3}, false, true},
		{"not caught up: no claim applied yet", fsm.Owner{}, false, false},
		{"its own claim from before a restart", fsm.Owner{Node: "n2", Term: 2}, false, false},
		{"leads: the master hook is onHeld's", fsm.Owner{Node: "n1", Term: 3}, true, false},
	} {
		if got := startsAsBackup("n2", tt.owner, tt.leader); got != tt.want {
			t.Errorf("%s: startsAsBackup = %v, want %v", tt.name, got, tt.want)
		}
	}
}
