package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
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
	t.Chdir("../../testdata/keepalived")
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
	t.Chdir("../../testdata/keepalived")
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
	src, err := filepath.Abs("../../testdata/keepalived/complete.conf")
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

// importedConfig is the config contract of issue 5 for the keys the import
// writes; decoding with KnownFields checks the output's structure even
// before the agent knows every key.
type importedConfig struct {
	VIPs         []string `yaml:"vip"`
	Interface    string   `yaml:"interface"`
	Priority     int      `yaml:"priority"`
	Preempt      *bool    `yaml:"preempt"`
	PreemptDelay duration `yaml:"preempt-delay"`
	NotifyMaster string   `yaml:"notify-master"`
	NotifyBackup string   `yaml:"notify-backup"`
	NotifyFault  string   `yaml:"notify-fault"`
	NotifyStop   string   `yaml:"notify-stop"`
	GARPCount    int      `yaml:"garp-count"`
	GARPInterval duration `yaml:"garp-interval"`
	GARPRepeat   duration `yaml:"garp-repeat"`
	GARPRefresh  duration `yaml:"garp-refresh"`
	Checks       []struct {
		Name      string   `yaml:"name"`
		Exec      string   `yaml:"exec"`
		Interface string   `yaml:"interface"`
		Interval  duration `yaml:"interval"`
		Timeout   duration `yaml:"timeout"`
		Rise      int      `yaml:"rise"`
		Fall      int      `yaml:"fall"`
	} `yaml:"checks"`
}

func TestGoldenOutputsLoad(t *testing.T) {
	goldens, err := filepath.Glob("../../testdata/keepalived/*.golden.yaml")
	if err != nil || len(goldens) == 0 {
		t.Fatalf("no golden outputs: %v", err)
	}
	for _, g := range goldens {
		t.Run(filepath.Base(g), func(t *testing.T) {
			b, err := os.ReadFile(g)
			if err != nil {
				t.Fatal(err)
			}
			checkContract(t, b)
			checkAgentLoads(t, b)
		})
	}
}

func checkContract(t *testing.T, b []byte) {
	t.Helper()
	var c importedConfig
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("output does not fit the config contract: %v", err)
	}
	if c.Priority < 1 || c.Priority > 255 || c.Preempt == nil || len(c.VIPs) == 0 {
		t.Errorf("priority %d, preempt %v, vip %v: want all written out", c.Priority, c.Preempt, c.VIPs)
	}
	for _, ch := range c.Checks {
		if (ch.Exec == "") == (ch.Interface == "") || ch.Timeout <= 0 || ch.Timeout > ch.Interval || ch.Rise < 1 || ch.Fall < 1 {
			t.Errorf("check %+v breaks the contract (one of exec/interface, 0 < timeout <= interval, rise and fall >= 1)", ch)
		}
	}
}

// checkAgentLoads feeds the keys the agent's Config knows today through
// its own loader, which refuses unknown keys, and validates the VIPs.
func checkAgentLoads(t *testing.T, b []byte) {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	ct := reflect.TypeOf(Config{})
	for i := range ct.NumField() {
		known[strings.Split(ct.Field(i).Tag.Get("yaml"), ",")[0]] = true
	}
	for k := range doc {
		if !known[k] {
			delete(doc, k)
		}
	}
	sub, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	if err := loadConfigFile(writeFile(t, "raftvip.yaml", string(sub)), &cfg); err != nil {
		t.Fatalf("agent loader refuses the output: %v\n%s", err, sub)
	}
	vips, err := cfg.SeedVIPs()
	if err != nil || len(vips) == 0 {
		t.Errorf("SeedVIPs = %v, %v", vips, err)
	}
	if _, err := cfg.RaftTiming(); err != nil {
		t.Error(err)
	}
	if err := cfg.validateAnnounce(); err != nil {
		t.Error(err)
	}
}
