package keepalived

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/raftvip/raftvip/internal/health"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// translateFile parses name from testdata; the test runs in that
// directory so that positions read "haproxy.conf:17".
func translateFile(t *testing.T, name string) Result {
	t.Helper()
	nodes, err := Parse(OSFS{}, name)
	if err != nil {
		t.Fatal(err)
	}
	return Translate(nodes)
}

func TestGolden(t *testing.T) {
	t.Chdir("testdata")
	confs, err := filepath.Glob("*.conf")
	if err != nil || len(confs) == 0 {
		t.Fatalf("no configs in testdata: %v", err)
	}
	for _, conf := range confs {
		t.Run(conf, func(t *testing.T) {
			got := Render(translateFile(t, conf), conf)
			golden := strings.TrimSuffix(conf, ".conf") + ".golden.yaml"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./keepalived -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("output differs from %s (-want +got):\n%s", golden, diff)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(got, &doc); err != nil {
				t.Errorf("output is not YAML: %v", err)
			}
		})
	}
}

// findings returns "file:line: what" of the findings of sev, for asserting
// that a statement was named.
func findings(r Result, sev Severity) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Severity == sev {
			out = append(out, f.Pos.String()+": "+f.What)
		}
	}
	return out
}

func TestHAProxyPair(t *testing.T) {
	t.Chdir("testdata")
	r := translateFile(t, "haproxy.conf")
	if r.Complete() {
		t.Error("Complete() = true, but the script's weight has no raftvip equivalent")
	}
	if diff := cmp.Diff([]string{"haproxy.conf:17: weight -20"}, findings(r, Untranslated)); diff != "" {
		t.Errorf("untranslated (-want +got):\n%s", diff)
	}
	want := []health.Check{{Name: "chk_haproxy", Exec: "/usr/bin/killall -0 haproxy", Interval: second * 2, Timeout: second * 2, Rise: 2, Fall: 3}}
	if diff := cmp.Diff(want, r.Checks); diff != "" {
		t.Errorf("checks (-want +got):\n%s", diff)
	}
	for key, want := range map[string]string{"priority": "150", "preempt": "true", "interface": "eth0", "notify-master": "/etc/keepalived/notify.sh master"} {
		if got, _ := r.Setting(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
}

func TestIPv6(t *testing.T) {
	t.Chdir("testdata")
	r := translateFile(t, "ipv6.conf")
	want := []VIP{
		{CIDR: "2001:db8::100/64"},
		{CIDR: "2001:db8::101/128", Comment: "keepalived's default for 2001:db8::101 without a prefix length is /128, kept"},
		{CIDR: "192.0.2.101/32", Comment: "keepalived's default for 192.0.2.101 without a prefix length is /32, kept"},
	}
	if diff := cmp.Diff(want, r.VIPs); diff != "" {
		t.Errorf("VIPs (-want +got):\n%s", diff)
	}
	if got, _ := r.Setting("preempt"); got != "false" {
		t.Errorf("nopreempt gave preempt %q, want false", got)
	}
	if got, _ := r.Setting("preempt-delay"); got != "30s" {
		t.Errorf("preempt-delay = %q, want 30s", got)
	}
	wantUn := []string{"ipv6.conf:17: advert_int 0.05", "ipv6.conf:27: chk_missing", "ipv6.conf:29: notify /etc/keepalived/notify-all.sh", "ipv6.conf:30: notify_stop /etc/keepalived/stop.sh root"}
	if diff := cmp.Diff(wantUn, findings(r, Untranslated)); diff != "" {
		t.Errorf("untranslated (-want +got):\n%s", diff)
	}
	if c := r.Checks[0]; c.Interval != second/2 || c.Timeout != second/2 {
		t.Errorf("check timing = %s/%s, want the timeout capped at the 500ms interval", c.Interval, c.Timeout)
	}
}

func TestSyncGroupMergesInstances(t *testing.T) {
	t.Chdir("testdata")
	r := translateFile(t, "syncgroup.conf")
	if diff := cmp.Diff([]VIP{{CIDR: "192.0.2.110/24"}, {CIDR: "192.0.2.130/26"}}, r.VIPs); diff != "" {
		t.Errorf("VIPs (-want +got):\n%s", diff)
	}
	un := strings.Join(findings(r, Untranslated), "\n")
	for _, want := range []string{"virtual_server 192.0.2.110 80", "interface eth1", "virtual_routes", "eth1 weight 10"} {
		if !strings.Contains(un, want) {
			t.Errorf("untranslated findings do not name %q:\n%s", want, un)
		}
	}
	if strings.Contains(un, "could be master on different nodes") {
		t.Error("instances of one sync group were reported as independent")
	}
	if got, _ := r.Setting("notify-master"); got != "/usr/local/bin/to-master.sh" {
		t.Errorf("notify-master = %q, want the sync group's script", got)
	}
}

func TestIndependentInstancesAreReported(t *testing.T) {
	nodes, err := parseString(t, map[string]string{"etc/keepalived.conf": `
vrrp_instance A { interface eth0
 virtual_ipaddress { 192.0.2.10/24 } }
vrrp_instance B { interface eth0
 virtual_ipaddress { 192.0.2.11/24 } }
`})
	if err != nil {
		t.Fatal(err)
	}
	r := Translate(nodes)
	if r.Complete() || len(r.VIPs) != 2 {
		t.Fatalf("Complete() = %v with VIPs %v, want both VIPs merged and the merge reported", r.Complete(), r.VIPs)
	}
	if got := r.Findings[0].Reason; !strings.Contains(got, "instance A, instance B could be master on different nodes") {
		t.Errorf("finding = %q", got)
	}
}

func TestCompleteConfig(t *testing.T) {
	t.Chdir("testdata")
	r := translateFile(t, "complete.conf")
	if !r.Complete() {
		t.Errorf("Complete() = false, untranslated: %v", findings(r, Untranslated))
	}
	if len(r.VIPs) != 2 || len(r.Checks) != 2 {
		t.Errorf("VIPs %v, checks %v: want both one-line VIPs and the script and interface checks", r.VIPs, r.Checks)
	}
}

func TestUnknownAndRefused(t *testing.T) {
	nodes, err := parseString(t, map[string]string{"etc/keepalived.conf": `
frobnicate 3
vrrp_instance A {
 priority 300
 virtual_ipaddress { 192.0.2.0/24 fe80::1 192.0.2.9/24 scope host }
 wibble
}`})
	if err != nil {
		t.Fatal(err)
	}
	r := Translate(nodes)
	got := strings.Join(findings(r, Untranslated), "\n")
	for _, want := range []string{":2: frobnicate 3", ":4: priority 300", ":5: 192.0.2.0/24 fe80::1", ":6: wibble"} {
		if !strings.Contains(got, want) {
			t.Errorf("untranslated findings do not name %q:\n%s", want, got)
		}
	}
	if diff := cmp.Diff([]VIP{{CIDR: "192.0.2.9/24"}}, r.VIPs); diff != "" {
		t.Errorf("VIPs (-want +got): network and link-local addresses must be refused\n%s", diff)
	}
}

func TestScalar(t *testing.T) {
	for in, want := range map[string]string{
		"eth0": "eth0", "192.0.2.1/24": "192.0.2.1/24", "2001:db8::1/64": "2001:db8::1/64", "150": "150", "true": "true",
		"on": `"on"`, "a b": `"a b"`, "x:": `"x:"`, "": `""`, "#x": `"#x"`, "a\nb": `"a\nb"`,
	} {
		if got := scalar(in); got != want {
			t.Errorf("scalar(%q) = %s, want %s", in, got, want)
		}
	}
}

// The note on kill -0 comes for the keepalived idiom only: the agent's unit
// has no CAP_KILL, so signal 0 to another user's process fails.
func TestSignalsOthers(t *testing.T) {
	for cmd, want := range map[string]bool{
		"/usr/bin/killall -0 haproxy":        true,
		"kill -0 $(cat /run/nginx.pid)":      true,
		"/usr/bin/pidof haproxy":             false,
		"/usr/local/bin/check-kill -0 thing": false,
		"killall -HUP haproxy":               false,
	} {
		if got := signalsOthers(cmd); got != want {
			t.Errorf("signalsOthers(%q) = %v, want %v", cmd, got, want)
		}
	}
}

// A check the agent would refuse is reported, not written: the importer
// validates with health.Check's own rules.
func TestRefusedCheck(t *testing.T) {
	nodes, err := parseString(t, map[string]string{"etc/keepalived.conf": `
vrrp_instance A {
 interface eth0
 virtual_ipaddress { 192.0.2.9/24 }
 track_interface { eth0 a-name-longer-than-ifnamsiz }
}`})
	if err != nil {
		t.Fatal(err)
	}
	r := Translate(nodes)
	var got []string
	for _, f := range r.Findings {
		got = append(got, f.String())
	}
	if !strings.Contains(strings.Join(got, "\n"), `raftvip refuses the check: check "if-a-name-longer-than-ifnamsiz": interface "a-name-longer-than-ifnamsiz" is not a valid interface name`) {
		t.Errorf("findings do not name the refused check:\n%s", strings.Join(got, "\n"))
	}
	if len(r.Checks) != 1 || r.Checks[0].Interface != "eth0" {
		t.Errorf("checks = %+v, want the eth0 check only", r.Checks)
	}
}
