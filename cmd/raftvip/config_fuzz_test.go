package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzConfigFile feeds arbitrary bytes to the agent as its -config file (the
// seed corpus is in testdata/fuzz/FuzzConfigFile). Parsing and Validate must
// never panic, and a file they accept must be a YAML mapping of known keys
// that names what no default supplies: the Raft address and the token file.
// Anything else is garbage and must be refused with an error.
func FuzzConfigFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, file []byte) {
		path := filepath.Join(t.TempDir(), "raftvip.yaml")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := parseAgentConfig([]string{"-config", path}, env(nil), io.Discard)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused with an empty error message")
			}
			return
		}
		var m map[string]any
		if err := yaml.Unmarshal(file, &m); err != nil {
			t.Fatalf("accepted a file that is not a YAML mapping (%v):\n%s", err, file)
		}
		known := agentFlags(&Config{})
		for k := range m {
			if k == "config" || known.Lookup(k) == nil {
				t.Fatalf("accepted unknown key %q:\n%s", k, file)
			}
		}
		for _, key := range []string{"raft-addr", "token-file"} {
			if _, ok := m[key]; !ok {
				t.Fatalf("accepted a file without %s:\n%s", key, file)
			}
		}
	})
}
