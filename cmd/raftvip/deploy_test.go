package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const unitFile = "../../deploy/raftvip.service"

// unitValues returns the values of key in the unit's [Service] section.
func unitValues(t *testing.T, key string) []string {
	t.Helper()
	return unitValuesOf(t, unitFile, key)
}

// unitValuesOf returns the values of key in the [Service] section of the
// unit at path.
func unitValuesOf(t *testing.T, path, key string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	section := ""
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "[Service]" && k == key {
			out = append(out, v)
		}
	}
	return out
}

func unitValue(t *testing.T, key string) string {
	t.Helper()
	vs := unitValues(t, key)
	if len(vs) != 1 {
		t.Fatalf("%s: %s=%v, want exactly one", unitFile, key, vs)
	}
	return vs[0]
}

// TestUnitVerifies runs systemd-analyze verify on the unit. verify wants the
// ExecStart binaries to exist, so a copy points at this test binary, which
// is executable; and it reports unknown keys and bad values only as warnings,
// so any output fails the test.
func TestUnitVerifies(t *testing.T) { verifyUnit(t, unitFile) }

// verifyUnit runs systemd-analyze verify on the unit at path, as
// TestUnitVerifies describes.
func verifyUnit(t *testing.T, path string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		msg := "systemd-analyze is not installed (package systemd; scripts/lab-deps.sh installs it): cannot verify " + path
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(copyPath, bytes.ReplaceAll(unit, []byte("/usr/local/bin/raftvip"), []byte(self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}

// TestUnitCommandsParse: the commands the unit runs are ones this binary
// accepts, with the three-node example config in place of /etc's.
func TestUnitCommandsParse(t *testing.T) {
	cfg := filepath.Join("..", "..", "examples", "three-node", "n1.yaml")
	args := func(key string) []string {
		f := strings.Fields(strings.ReplaceAll(unitValue(t, key), "/etc/raftvip/raftvip.yaml", cfg))
		if len(f) < 2 || f[0] != "/usr/local/bin/raftvip" {
			t.Fatalf("%s=%v: want /usr/local/bin/raftvip <command> ...", key, f)
		}
		return f[1:]
	}
	if a := args("ExecStart"); a[0] != "agent" {
		t.Fatalf("ExecStart runs %q, want agent", a[0])
	} else if c, err := parseAgentConfig(a[1:], env(nil), io.Discard); err != nil {
		t.Fatalf("ExecStart: %v", err)
	} else if err := c.Validate(); err != nil {
		t.Fatalf("ExecStart with %s: %v", cfg, err)
	} else if c.DataDir != "/var/lib/"+unitValue(t, "StateDirectory") {
		t.Errorf("the example's data-dir %s is not the unit's StateDirectory, the only writable path", c.DataDir)
	}
	if a := args("ExecStopPost"); a[0] != "release" {
		t.Fatalf("ExecStopPost runs %q, want release", a[0])
	} else if _, err := parseReleaseConfig(a[1:], env(nil), io.Discard); err != nil {
		t.Fatalf("ExecStopPost: %v", err)
	}
	if unitValue(t, "Type") != "notify" {
		t.Errorf("Type=%s: the agent sends READY=1, want notify", unitValue(t, "Type"))
	}
	// The watchdog is fed while the last reconciler pass is under half the
	// interval old; passes come at least every second.
	wd, err := time.ParseDuration(unitValue(t, "WatchdogSec"))
	if err != nil || wd/2 < 2*time.Second {
		t.Errorf("WatchdogSec=%s: want a duration whose half covers at least two reconciler periods (1s)", unitValue(t, "WatchdogSec"))
	}
}

// TestThreeNodeExamples: every example config parses and validates.
func TestThreeNodeExamples(t *testing.T) {
	for _, n := range []string{"n1", "n2", "n3"} {
		path := filepath.Join("..", "..", "examples", "three-node", n+".yaml")
		c, err := parseAgentConfig([]string{"-config", path}, env(nil), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		// The same join list and expectation everywhere: no node bootstraps
		// alone, and a node with an empty data dir joins the others.
		if c.ID != n || c.Bootstrap || c.BootstrapExpect != 3 || len(c.Join) != 3 || len(c.VIPs) != 1 {
			t.Errorf("%s: id %q, bootstrap %v, bootstrap-expect %d, join %v, vip %v: want id %s, "+
				"bootstrap-expect 3 with all three members listed, and the seed VIP", path, c.ID, c.Bootstrap,
				c.BootstrapExpect, c.Join, c.VIPs, n)
		}
	}
}
