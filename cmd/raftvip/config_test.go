package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/raftvip/raftvip/internal/agent"
)

var discard = slog.New(slog.DiscardHandler)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "raftvip.yaml", `
id: from-file
raft-addr: 192.0.2.11:7000
data-dir: /file/dir
vip: [192.0.2.100/24, 192.0.2.101/24]
join: "192.0.2.12:8080,192.0.2.13:8080"
heartbeat: 300ms
timing: wan
priority: 150
preempt: true
notify-master: /etc/raftvip/notify.sh master
`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(c *Config)
	}{
		{"file over defaults", []string{"-config", file}, nil, func(c *Config) {}},
		{"env over file", []string{"-config", file}, map[string]string{"RAFTVIP_DATA_DIR": "/env/dir", "RAFTVIP_VIP": "192.0.2.150/24"},
			func(c *Config) { c.DataDir = "/env/dir"; c.VIPs = listFlag{"192.0.2.150/24"} }},
		{"flag over env and file", []string{"-config", file, "-data-dir", "/flag/dir", "-vip", "192.0.2.200/24", "-vip", "192.0.2.201/24"},
			map[string]string{"RAFTVIP_DATA_DIR": "/env/dir"},
			func(c *Config) { c.DataDir = "/flag/dir"; c.VIPs = listFlag{"192.0.2.200/24", "192.0.2.201/24"} }},
		{"config path from env", nil, map[string]string{"RAFTVIP_CONFIG": file}, func(c *Config) {}},
		{"HA keys by flag and env", []string{"-config", file, "-priority", "90", "-preempt-delay", "30s"},
			map[string]string{"RAFTVIP_PREEMPT": "false"},
			func(c *Config) { c.Priority, c.Preempt, c.PreemptDelay = 90, false, agent.Duration(30*time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAgentConfig(tt.args, env(tt.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			want := defaultConfig()
			want.ID, want.RaftAddr, want.HTTPAddr, want.DataDir = "from-file", "192.0.2.11:7000", "192.0.2.11:8080", "/file/dir"
			want.VIPs = listFlag{"192.0.2.100/24", "192.0.2.101/24"}
			want.Join = listFlag{"192.0.2.12:8080", "192.0.2.13:8080"}
			want.Heartbeat, want.Timing = agent.Duration(300*time.Millisecond), "wan"
			want.Priority, want.Preempt, want.NotifyMaster = 150, true, "/etc/raftvip/notify.sh master"
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func validBase() []string {
	return []string{"-id", "n1", "-raft-addr", "192.0.2.11:7000", "-data-dir", "/tmp/x", "-token-file", "/etc/token",
		"-insecure-plaintext"}
}

func TestValidateNamesTheProblem(t *testing.T) {
	tests := []struct {
		args []string
		want string // substring of the error
	}{
		{[]string{"-vip", "192.0.2.300/24"}, `"192.0.2.300/24"`},
		{[]string{"-vip", "192.0.2.0/24"}, "network address"},
		{[]string{"-id", "bad id"}, `-id "bad id"`},
		{[]string{"-raft-addr", "nonsense"}, `-raft-addr "nonsense"`},
		{[]string{"-id", ".."}, "must start with a letter or digit"},
		{[]string{"-raft-addr", "0.0.0.0:7000"}, "-raft-advertise"},
		{[]string{"-raft-addr", ":7000"}, "-raft-advertise"},
		{[]string{"-raft-addr", "[::]:7000", "-raft-advertise", "192.0.2.11:7000", "-http-addr", ":8080"}, `-http-addr ":8080" is a wildcard`},
		{[]string{"-token-file", ""}, "-token-file is required"},
		{[]string{"-bootstrap", "-bootstrap-expect", "1"}, "exclude each other"},
		{[]string{"-bootstrap-expect", "3", "-join", "192.0.2.12:8080"}, "-bootstrap-expect 3: want 1 to 2"},
		{[]string{"-bootstrap-expect", "-1"}, "-bootstrap-expect -1"},
		{[]string{"-join", "192.0.2.12"}, `-join "192.0.2.12"`},
		{[]string{"-timing", "turbo"}, "turbo"},
		{[]string{"-heartbeat", "100ms", "-leader-lease", "100ms"}, "100ms"},
		{[]string{"-vip-lease", "1500ms"}, "-vip-lease 1.5s"},
		{[]string{"-log-format", "xml"}, `-log-format "xml"`},
		{[]string{"-priority", "0"}, "-priority 0: want 1 to 255"},
		{[]string{"-priority", "256"}, "-priority 256"},
		{[]string{"-preempt-delay", "-1s"}, "-preempt-delay must not be negative"},
		{[]string{"-notify-timeout", "0s"}, "-notify-timeout 0s"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cfg, err := parseAgentConfig(append(validBase(), tt.args...), env(nil), io.Discard)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	cfg, err := parseAgentConfig(validBase(), env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	// A wildcard -raft-addr with -raft-advertise: the default API address is
	// on the advertised host, which peers can dial.
	cfg, err = parseAgentConfig(append(validBase(), "-raft-addr", "0.0.0.0:7000", "-raft-advertise", "192.0.2.11:7000"), env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || cfg.HTTPAddr != "192.0.2.11:8080" {
		t.Fatalf("wildcard -raft-addr with -raft-advertise: -http-addr %q, Validate = %v; want 192.0.2.11:8080, nil", cfg.HTTPAddr, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, args := range [][]string{{"-no-such-flag"}, {"-heartbeat", "soon"}, {"stray"}} {
		if _, err := parseAgentConfig(args, env(nil), io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("parse(%q) = %v, want a usage error", args, err)
		}
	}
	if _, err := parseAgentConfig([]string{"-h"}, env(nil), io.Discard); !errors.Is(err, errHelp) {
		t.Errorf("-h = %v, want errHelp", err)
	}
	two := writeFile(t, "two.yaml", "id: n1\n---\nid: n2\n")
	if _, err := parseAgentConfig([]string{"-config", two}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "more than one YAML document") {
		t.Errorf("two YAML documents: %v, want them refused", err)
	}
	bad := writeFile(t, "bad.yaml", "raft-adr: 192.0.2.11:7000\n")
	_, err := parseAgentConfig([]string{"-config", bad}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "raft-adr") {
		t.Errorf("unknown key in the config file = %v, want an error naming it", err)
	}
	_, err = parseAgentConfig([]string{"-config", "/nonexistent/raftvip.yaml"}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/raftvip.yaml") {
		t.Errorf("missing config file = %v, want an error naming it", err)
	}
	if _, err := parseAgentConfig(nil, env(map[string]string{"RAFTVIP_HEARTBEAT": "later"}), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "RAFTVIP_HEARTBEAT") {
		t.Errorf("bad env value = %v, want an error naming the variable", err)
	}
}

func TestReadToken(t *testing.T) {
	if tok, err := agent.ReadToken(writeFile(t, "tok", "  s3cret\n"), discard); err != nil || string(tok) != "s3cret" {
		t.Errorf("readToken = %q, %v", tok, err)
	}
	if _, err := agent.ReadToken(writeFile(t, "empty", "\n"), discard); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file = %v, want an error", err)
	}
	if _, err := agent.ReadToken("/nonexistent/token", discard); err == nil || !strings.Contains(err.Error(), "/nonexistent/token") {
		t.Errorf("missing token file = %v, want an error naming it", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{nil, 2},
		{[]string{"frobnicate"}, 2},
		{[]string{"version"}, 0},
		{[]string{"agent", "-h"}, 0},
		{[]string{"agent", "-id", "n1"}, 1},
		// Valid flags, missing token file: start-up fails after parsing, and
		// must clean up without crashing.
		{[]string{"agent", "-id", "n1", "-raft-addr", "127.0.0.1:1", "-data-dir", "/nonexistent/data", "-token-file", "/nonexistent/token",
			"-insecure-plaintext"}, 1},
		// Neither TLS nor -insecure-plaintext.
		{[]string{"agent", "-id", "n1", "-raft-addr", "127.0.0.1:1", "-token-file", "/nonexistent/token"}, 1},
		{[]string{"status", "-addr", "127.0.0.1:1"}, 1},
		{[]string{"tls"}, 2},
		{[]string{"tls", "cert", "-id", "bad id"}, 2},
		{[]string{"vip"}, 2},
		{[]string{"vip", "add", "not-a-cidr", "-addr", "127.0.0.1:1"}, 1},
		{[]string{"status", "-addr", "127.0.0.1:1", "-timeout", "200ms", "-insecure-plaintext"}, 1},
	}
	for _, tt := range tests {
		var out, errb strings.Builder
		if got := run(t.Context(), tt.args, &out, &errb, env(nil)); got != tt.code {
			t.Errorf("run(%q) = %d, want %d; stderr: %s", tt.args, got, tt.code, errb.String())
		}
		if tt.code == 1 && strings.Count(strings.TrimSpace(errb.String()), "\n") > 0 {
			t.Errorf("run(%q): error is not one line: %q", tt.args, errb.String())
		}
	}
}

func TestTLSFlags(t *testing.T) {
	base := []string{"-id", "n1", "-raft-addr", "192.0.2.11:7000", "-token-file", "/etc/token"}
	tests := []struct {
		args []string
		env  map[string]string
		want string // "" = valid
	}{
		{nil, nil, "give -tls-cert, -tls-key and -tls-ca (made with raftvip tls init and tls cert), or -insecure-plaintext"},
		{[]string{"-tls-cert", "c.pem", "-tls-ca", "ca.pem"}, nil, "-tls-key missing"},
		{[]string{"-tls-cert", "c.pem"}, nil, "-tls-key and -tls-ca missing"},
		{[]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-ca", "ca.pem", "-insecure-plaintext"}, nil, "exclude each other"},
		{[]string{"-tls-cert", "c.pem", "-tls-key", "k.pem", "-tls-ca", "ca.pem"}, nil, ""},
		{nil, map[string]string{"RAFTVIP_TLS_CERT": "c.pem", "RAFTVIP_TLS_KEY": "k.pem", "RAFTVIP_TLS_CA": "ca.pem"}, ""},
		{nil, map[string]string{"RAFTVIP_INSECURE_PLAINTEXT": "true"}, ""},
		{[]string{"-insecure-plaintext", "-monitor-addr", "192.0.2.11"}, nil, `-monitor-addr "192.0.2.11"`},
		{[]string{"-insecure-plaintext", "-monitor-addr", "192.0.2.11:8080"}, nil, "a port of its own"},
		{[]string{"-insecure-plaintext", "-monitor-addr", "192.0.2.11:9090"}, nil, ""},
		{[]string{"-insecure-plaintext", "-ui-addr", "192.0.2.11:8090"}, nil, ""},
		{nil, map[string]string{"RAFTVIP_INSECURE_PLAINTEXT": "true", "RAFTVIP_UI_ADDR": "127.0.0.1:8090"}, ""},
		{[]string{"-insecure-plaintext", "-ui-addr", "192.0.2.11"}, nil, `-ui-addr "192.0.2.11"`},
		{[]string{"-insecure-plaintext", "-ui-addr", "192.0.2.11:8080"}, nil, "a port of its own"},
		{[]string{"-insecure-plaintext", "-ui-addr", "192.0.2.11:9090", "-monitor-addr", "192.0.2.11:9090"}, nil, "a port of its own"},
		{[]string{"-insecure-plaintext", "-ui-token-file", "/etc/ui-token"}, nil, "-ui-token-file needs -ui-addr"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " ")+fmt.Sprint(tt.env), func(t *testing.T) {
			cfg, err := parseAgentConfig(append(base, tt.args...), env(tt.env), io.Discard)
			if err == nil {
				err = cfg.Validate()
			}
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	// The YAML keys are the flag names.
	file := writeFile(t, "raftvip.yaml", "tls-cert: /etc/raftvip/n1.pem\ntls-key: /etc/raftvip/n1-key.pem\n"+
		"tls-ca: /etc/raftvip/ca.pem\nmonitor-addr: 192.0.2.11:9090\nui-addr: 127.0.0.1:8090\nui-token-file: /etc/raftvip/ui-token\n")
	cfg, err := parseAgentConfig(append(base, "-config", file), env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.TLSFiles(); got != (agent.TLSFiles{Cert: "/etc/raftvip/n1.pem", Key: "/etc/raftvip/n1-key.pem", CA: "/etc/raftvip/ca.pem"}) ||
		cfg.MonitorAddr != "192.0.2.11:9090" || cfg.UIAddr != "127.0.0.1:8090" || cfg.UITokenFile != "/etc/raftvip/ui-token" {
		t.Fatalf("from the file: %+v, monitor %q", got, cfg.MonitorAddr)
	}
}

// TestTLSFilesLoad: each way the three files can be wrong gives an error
// naming it, and a key file others can read is loaded with a warning.
func TestTLSFilesLoad(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"init", "-dir", dir}, {"cert", "-dir", dir, "-id", "n1"}, {"cert", "-dir", dir, "-id", "n2"}} {
		if err := runTLS(args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	other := t.TempDir()
	for _, args := range [][]string{{"init", "-dir", other}, {"cert", "-dir", other, "-id", "n1"}} {
		if err := runTLS(args, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	p := func(d, name string) string { return filepath.Join(d, name) }
	junk := writeFile(t, "junk.pem", "not PEM\n")
	good := agent.TLSFiles{Cert: p(dir, "n1.pem"), Key: p(dir, "n1-key.pem"), CA: p(dir, "ca.pem")}
	tests := []struct {
		name string
		mod  func(*agent.TLSFiles)
		want string
	}{
		{"missing file", func(f *agent.TLSFiles) { f.Cert = p(dir, "n9.pem") }, "-tls-cert: open " + p(dir, "n9.pem")},
		{"missing key", func(f *agent.TLSFiles) { f.Key = p(dir, "n9-key.pem") }, "-tls-key: open"},
		{"bad PEM", func(f *agent.TLSFiles) { f.Cert = junk }, "no PEM CERTIFICATE block"},
		{"bad CA PEM", func(f *agent.TLSFiles) { f.CA = junk }, "CA certificate: no PEM"},
		{"key of another cert", func(f *agent.TLSFiles) { f.Key = p(dir, "n2-key.pem") }, "does not match"},
		{"cert of another CA", func(f *agent.TLSFiles) { f.Cert, f.Key = p(other, "n1.pem"), p(other, "n1-key.pem") }, "signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good
			tt.mod(&f)
			if _, err := f.Load(discard); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	id, err := good.Load(log)
	if err != nil || id.ID != "n1" {
		t.Fatalf("load = %v, %v", id, err)
	}
	if logs.Len() != 0 {
		t.Errorf("a 0600 key gave warnings: %s", logs.String())
	}
	if err := os.Chmod(good.Key, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := good.Load(log); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(good.Key)
	if !strings.Contains(logs.String(), "readable by group or others") || !strings.Contains(logs.String(), "0640") {
		t.Errorf("no warning for a 0640 key: %q", logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || strings.Contains(logs.String(), string(key[40:60])) {
		t.Error("the key's content was logged")
	}
}

// TestExampleConfig: the documented example file parses and validates.
func TestExampleConfig(t *testing.T) {
	cfg, err := parseAgentConfig([]string{"-config", "../../examples/raftvip.yaml"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.TLSCA == "" || cfg.InsecurePlaintext {
		t.Errorf("the example runs without TLS: %+v", cfg.TLSFiles())
	}
}
