package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWitnessFromEverySource: -witness, RAFTVIP_WITNESS and the file's
// witness key each make a witness.
func TestWitnessFromEverySource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "raftvip.yaml")
	if err := os.WriteFile(file, []byte("witness: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"flag": {args: []string{"-witness"}},
		"env":  {env: map[string]string{"RAFTVIP_WITNESS": "true"}},
		"file": {args: []string{"-config", file}},
	} {
		cfg, err := parseAgentConfig(append(validBase(), src.args...), env(src.env), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !cfg.Witness {
			t.Errorf("%s: not a witness", name)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestWitnessRefusesVIPFlags(t *testing.T) {
	for _, extra := range [][]string{{"-vip", "192.0.2.100/24"}, {"-interface", "eth0"}, {"-notify-master", "true"}} {
		cfg, err := parseAgentConfig(append(validBase(), append([]string{"-witness"}, extra...)...), env(nil), io.Discard)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), extra[0]+" is refused with -witness") {
			t.Errorf("-witness %v: %v, want a refusal naming %s", extra, err, extra[0])
		}
	}
}

// TestImportPairPrintsAWorkingWitness: import-keepalived on one host of a
// pair prints the witness's config as comments; uncommented, with the
// witness's address filled in, it is a valid witness config.
func TestImportPairPrintsAWorkingWitness(t *testing.T) {
	var out, errs strings.Builder
	err := runImport([]string{"../../internal/keepalived/testdata/haproxy.conf"}, &out, &errs)
	if err != nil && !strings.Contains(err.Error(), "not all of") {
		t.Fatalf("import: %v\n%s", err, errs.String())
	}
	if !strings.Contains(errs.String(), "raftvip needs a third voter") {
		t.Errorf("stderr does not say a pair needs a third voter:\n%s", errs.String())
	}
	_, block, ok := strings.Cut(out.String(), "# The witness this pair needs")
	if !ok {
		t.Fatalf("no witness config in the output:\n%s", out.String())
	}
	var yaml strings.Builder
	for line := range strings.Lines(block) {
		if rest, ok := strings.CutPrefix(line, "#   "); ok {
			yaml.WriteString(strings.ReplaceAll(rest, "WITNESS-IP", "198.51.100.10"))
		}
	}
	file := filepath.Join(t.TempDir(), "witness.yaml")
	if err := os.WriteFile(file, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseAgentConfig([]string{"-config", file}, env(nil), io.Discard)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil || !cfg.Witness || len(cfg.Join) != 2 {
		t.Fatalf("the printed witness config %v (witness %v, join %v):\n%s", err, cfg.Witness, cfg.Join, yaml.String())
	}
}
