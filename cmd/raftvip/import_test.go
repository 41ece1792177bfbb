package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runImportCmd runs the subcommand through main's dispatch, in
// testdata/keepalived, and returns the exit code and outputs.
func runImportCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"import-keepalived"}, args...), &stdout, &stderr, env(nil))
	return code, stdout.String(), stderr.String()
}

func TestImportExitCodes(t *testing.T) {
	t.Chdir("../../internal/keepalived/testdata")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // a line stderr must contain
		output bool   // a config is printed
	}{
		{"complete", []string{"complete.conf"}, 0, "note: complete.conf:10: state BACKUP", true},
		{"partly untranslated", []string{"haproxy.conf"}, 1, "not translated: haproxy.conf:17: weight -20", true},
		{"includes", []string{"main.conf"}, 0, "note: main.conf:3: router_id LB2", true},
		{"flag after the file", []string{"complete.conf", "-force"}, 0, "", true},
		{"unterminated block", []string{"bad/unterminated.conf"}, 2, "raftvip import-keepalived: bad/unterminated.conf:1: syntax error", false},
		{"include cycle", []string{"bad/cycle-a.conf"}, 2, "bad/cycle-b.conf:2: syntax error: include cycle", false},
		{"missing file", []string{"nothere.conf"}, 2, "nothere.conf", false},
		{"no file", nil, 2, "want the keepalived config file", false},
		{"two files", []string{"complete.conf", "haproxy.conf"}, 2, `unexpected argument "haproxy.conf"`, false},
		{"help", []string{"-h"}, 0, "Exit status: 0 the translation is complete; 1 something", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runImportCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, stderr)
			}
			if got := strings.HasPrefix(stdout, "# raftvip config translated from"); got != tt.output {
				t.Errorf("config printed = %v, want %v:\n%s", got, tt.output, stdout)
			}
		})
	}
}

func TestImportStdoutIsGolden(t *testing.T) {
	t.Chdir("../../internal/keepalived/testdata")
	_, stdout, _ := runImportCmd(t, "haproxy.conf")
	want, err := os.ReadFile("haproxy.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

func TestImportOutputFile(t *testing.T) {
	src, err := filepath.Abs("../../internal/keepalived/testdata/complete.conf")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "raftvip.yaml")
	code, stdout, _ := runImportCmd(t, "-o", out, src)
	if code != 0 || stdout != "" {
		t.Fatalf("exit %d, stdout %q: want 0 and the config in the file only", code, stdout)
	}
	first, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(first, []byte("vip:\n  - 192.0.2.120/24")) {
		t.Fatalf("file = %q, %v: want the config", first, err)
	}

	if err := os.WriteFile(out, []byte("id: keep-me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runImportCmd(t, "-o", out, src)
	if code != 2 || !strings.Contains(stderr, "give -force to overwrite") {
		t.Errorf("over an existing file: exit %d, stderr %q; want 2 and a refusal", code, stderr)
	}
	if b, _ := os.ReadFile(out); string(b) != "id: keep-me\n" {
		t.Errorf("refused run changed the file to %q", b)
	}

	if code, _, stderr := runImportCmd(t, "-o", out, "-force", src); code != 0 {
		t.Fatalf("-force: exit %d, stderr %s", code, stderr)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, first) {
		t.Errorf("-force wrote %q, want the config", b)
	}
}

// TestGoldenOutputsLoad feeds each golden output whole through the agent's
// own loader (unknown keys refused, in checks too) and the validation that
// needs no id, raft-addr or TLS files: the VIPs, announcements, priority,
// hooks and checks (health.Prepare).
func TestGoldenOutputsLoad(t *testing.T) {
	goldens, err := filepath.Glob("../../internal/keepalived/testdata/*.golden.yaml")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden outputs: %v", err)
	}
	for _, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			if err := loadImported(g); err != nil {
				t.Error(err)
			}
		})
	}
}

// loadImported is what the agent does with an imported file before it needs
// the keys the import leaves to the operator.
func loadImported(path string) error {
	cfg := defaultConfig()
	if err := loadConfigFile(path, &cfg); err != nil {
		return err
	}
	if vips, err := cfg.SeedVIPs(); err != nil || len(vips) == 0 {
		return fmt.Errorf("vip: %v, %w", vips, err)
	}
	// The keys the operator adds: node identity, addresses, secrets.
	cfg.ID, cfg.RaftAddr, cfg.HTTPAddr = "n1", "192.0.2.11:7000", "192.0.2.11:8080"
	cfg.TokenFile, cfg.InsecurePlaintext = "/etc/raftvip/token", true
	return cfg.Validate()
}

// The golden test above can fail: a bad check or an unknown key is refused.
func TestLoadImportedRefusesBadChecks(t *testing.T) {
	b, err := os.ReadFile("../../internal/keepalived/testdata/haproxy.golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	if !strings.Contains(good, "    timeout: 2s\n") || !strings.Contains(good, "checks:\n") {
		t.Fatalf("haproxy.golden.yaml has no check with interval and timeout 2s:\n%s", good)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"timeout over interval", strings.Replace(good, "    timeout: 2s\n", "    timeout: 5s\n", 1), "timeout 5s is longer than interval 2s"},
		{"unknown key in a check", strings.Replace(good, "    interval: 2s\n", "    interval: 2s\n    fal: 3\n", 1), "field fal not found"},
		{"unknown top-level key", good + "weight: -20\n", "field weight not found"},
		{"priority out of range", strings.Replace(good, "priority: ", "priority: 3", 1), "-priority"},
	} {
		err := loadImported(writeFile(t, "raftvip.yaml", tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}
