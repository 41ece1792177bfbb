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
