package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

const witnessUnitFile = "../../deploy/raftvip-witness.service"

func TestWitnessUnitVerifies(t *testing.T) { verifyUnit(t, witnessUnitFile) }

func witnessUnitValue(t *testing.T, key string) string {
	t.Helper()
	vs := unitValuesOf(t, witnessUnitFile, key)
	if len(vs) != 1 {
		t.Fatalf("%s: %s=%v, want exactly one", witnessUnitFile, key, vs)
	}
	return vs[0]
}

// TestWitnessUnit: the witness's unit runs a witness from the example
// config as a dynamic user with no capabilities, with the same hardening as
// the VIP hosts' unit.
func TestWitnessUnit(t *testing.T) {
	cmd := strings.ReplaceAll(witnessUnitValue(t, "ExecStart"), "/etc/raftvip/witness.yaml",
		filepath.Join("..", "..", "examples", "witness.yaml"))
	cmd = strings.ReplaceAll(cmd, "%d", "/run/credentials/raftvip-witness.service")
	f := strings.Fields(cmd)
	if len(f) < 2 || f[0] != "/usr/local/bin/raftvip" || f[1] != "agent" {
		t.Fatalf("ExecStart=%v: want /usr/local/bin/raftvip agent ...", f)
	}
	c, err := parseAgentConfig(f[2:], env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("ExecStart with the example: %v", err)
	}
	if !c.Witness || c.DataDir != "/var/lib/"+witnessUnitValue(t, "StateDirectory") {
		t.Errorf("witness %v, data dir %s: want a witness writing the unit's StateDirectory", c.Witness, c.DataDir)
	}
	want := map[string]string{"DynamicUser": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
		"NoNewPrivileges": "yes", "Type": "notify"}
	for k, v := range want {
		if got := witnessUnitValue(t, k); got != v {
			t.Errorf("%s=%s, want %q", k, got, v)
		}
	}
	if fam := witnessUnitValue(t, "RestrictAddressFamilies"); strings.Contains(fam, "AF_PACKET") {
		t.Errorf("RestrictAddressFamilies=%s: a witness opens no packet socket", fam)
	}
	// Every hardening setting of the VIP hosts' unit, but for what concerns
	// holding VIPs (capabilities, packet sockets) and /proc for checks, and
	// its CPU priority.
	for _, k := range []string{"ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
		"ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
		"RestrictNamespaces", "RestrictRealtime", "RestrictSUIDSGID", "LockPersonality", "MemoryDenyWriteExecute",
		"RemoveIPC", "SystemCallArchitectures", "SystemCallFilter", "SystemCallErrorNumber", "UMask", "WatchdogSec",
		"Nice", "CPUWeight"} {
		if got, base := witnessUnitValue(t, k), unitValue(t, k); got != base {
			t.Errorf("%s=%s, but deploy/raftvip.service has %s", k, got, base)
		}
	}
}
