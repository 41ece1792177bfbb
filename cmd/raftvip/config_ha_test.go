package main

import (
	"strings"
	"testing"
)

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
