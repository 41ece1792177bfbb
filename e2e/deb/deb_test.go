// Package deb builds the Debian package (packaging/deb/build.sh, as `make
// deb` does), checks it with lintian, and installs, reinstalls, removes and
// purges it in a scratch root with dpkg --root. It needs root (dpkg sets
// owners) and skips without it, or fails under CI=true.
//
// The maintainer scripts run with --force-script-chrootless: a scratch root
// has no /bin/sh to chroot into, and building one (debootstrap) would take
// minutes and the network. Chrootless, dpkg runs the scripts with the host's
// shell and sets DPKG_ROOT to the scratch root; the scripts put every path
// under DPKG_ROOT, deb-systemd-helper honours it, and systemctl is skipped
// when it is set (as in debhelper's snippets), so the host's systemd and
// /var/lib are not touched.
package deb

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// need skips t when cond is false, or fails it under CI=true, where every
// test must run.
func need(t *testing.T, cond bool, why string) {
	t.Helper()
	if cond {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s, and CI=true: refusing to skip", why)
	}
	t.Skip(why)
}

// command runs name with a deadline and returns its combined output.
func command(t *testing.T, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustRun(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	out, err := command(t, timeout, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

var (
	buildOnce sync.Once
	debPath   string
	buildErr  string
)

// buildDeb builds the package once for the tests of this package, in a
// directory removed by TestMain.
func buildDeb(t *testing.T) string {
	t.Helper()
	need(t, os.Geteuid() == 0, "needs root to install a package with dpkg --root")
	for _, tool := range []string{"dpkg-deb", "dpkg", "deb-systemd-helper"} {
		_, err := exec.LookPath(tool)
		need(t, err == nil, tool+" is not installed")
	}
	buildOnce.Do(func() {
		out, err := command(t, 10*time.Minute, "../../packaging/deb/build.sh", outDir)
		if err != nil {
			buildErr = err.Error() + "\n" + out
			return
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		debPath = lines[len(lines)-1]
	})
	if buildErr != "" {
		t.Fatalf("packaging/deb/build.sh: %s", buildErr)
	}
	return debPath
}

var outDir string

func TestMain(m *testing.M) {
	var err error
	if outDir, err = os.MkdirTemp("", "raftvip-deb-"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(outDir)
	os.Exit(code)
}

// TestLintian: lintian finds no error; its warnings are reported.
func TestLintian(t *testing.T) {
	deb := buildDeb(t)
	_, err := exec.LookPath("lintian")
	need(t, err == nil, "lintian is not installed (scripts/lab-deps.sh installs it)")
	out, err := command(t, 5*time.Minute, "lintian", "--fail-on", "error", "--no-tag-display-limit", deb)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "W: ") || strings.HasPrefix(l, "E: ") {
			t.Log(l)
		}
	}
	if err != nil {
		t.Fatalf("lintian: %v\n%s", err, out)
	}
}

// TestControl: the package's name, version and architecture are the file
// name's, and the version is a Debian version.
func TestControl(t *testing.T) {
	deb := buildDeb(t)
	fields := mustRun(t, time.Minute, "dpkg-deb", "--showformat=${Package} ${Version} ${Architecture}", "--show", deb)
	arch := strings.TrimSpace(mustRun(t, time.Minute, "dpkg", "--print-architecture"))
	f := strings.Fields(fields)
	if len(f) != 3 || f[0] != "raftvip" || f[2] != arch ||
		filepath.Base(deb) != "raftvip_"+f[1]+"_"+arch+".deb" {
		t.Fatalf("package %s says %q", deb, fields)
	}
	mustRun(t, time.Minute, "dpkg", "--validate-version", f[1])
	if !regexp.MustCompile(`-1$`).MatchString(f[1]) {
		t.Errorf("version %s has no Debian revision -1 (changelog.Debian.gz is for non-native packages)", f[1])
	}
}

// scratchRoot is an empty root with an empty dpkg database.
type scratchRoot struct {
	t   *testing.T
	dir string
}

func newScratchRoot(t *testing.T) scratchRoot {
	dir := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return scratchRoot{t, dir}
}

func (r scratchRoot) dpkg(args ...string) string {
	r.t.Helper()
	return mustRun(r.t, 2*time.Minute, "dpkg", append([]string{"--root=" + r.dir, "--force-script-chrootless"}, args...)...)
}

func (r scratchRoot) path(p string) string { return filepath.Join(r.dir, p) }

func (r scratchRoot) exists(p string) bool {
	_, err := os.Lstat(r.path(p))
	return err == nil
}

// status is the package's dpkg status in the scratch root, "" when dpkg no
// longer knows it.
func (r scratchRoot) status() string {
	out, err := command(r.t, time.Minute, "dpkg-query", "--root="+r.dir, "--showformat=${Status}", "--show", "raftvip")
	if err != nil {
		return ""
	}
	return out
}

// files lists every path under the root outside dpkg's database.
func (r scratchRoot) files() []string {
	r.t.Helper()
	var out []string
	err := filepath.WalkDir(r.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.dir, p)
		if rel == "var/lib/dpkg" {
			return filepath.SkipDir
		}
		if rel != "." {
			out = append(out, "/"+rel)
		}
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return out
}

// TestInstallRemovePurge installs the package into a scratch root and checks
// what an operator would find, then that an edited conffile survives a
// reinstall, that remove keeps config and data, and that purge leaves only
// what the operator added.
func TestInstallRemovePurge(t *testing.T) {
	deb := buildDeb(t)
	hostState := "/var/lib/systemd/deb-systemd-helper-enabled/raftvip.service.dsh-also"
	_, hostErr := os.Lstat(hostState)
	r := newScratchRoot(t)
	r.dpkg("--install", deb)
	if s := r.status(); s != "install ok installed" {
		t.Fatalf("status after install: %q", s)
	}

	for path, mode := range map[string]fs.FileMode{
		"/usr/bin/raftvip":                                0o755,
		"/usr/lib/systemd/system/raftvip.service":         0o644,
		"/usr/lib/systemd/system/raftvip-witness.service": 0o644,
		"/etc/raftvip/raftvip.yaml":                       0o644,
		"/usr/share/man/man1/raftvip.1.gz":                0o644,
		"/usr/share/bash-completion/completions/raftvip":  0o644,
		"/usr/share/doc/raftvip/copyright":                0o644,
		"/usr/share/doc/raftvip/changelog.Debian.gz":      0o644,
		"/var/lib/raftvip":                                fs.ModeDir | 0o700,
	} {
		fi, err := os.Lstat(r.path(path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if fi.Mode() != mode {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	unit, err := os.ReadFile(r.path("/usr/lib/systemd/system/raftvip.service"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(unit, []byte("ExecStart=/usr/bin/raftvip agent -config /etc/raftvip/raftvip.yaml")) ||
		bytes.Contains(unit, []byte("/usr/local/")) {
		t.Errorf("the packaged unit does not run /usr/bin/raftvip:\n%s", unit)
	}
	if w, err := os.ReadFile(r.path("/usr/lib/systemd/system/raftvip-witness.service")); err != nil ||
		!bytes.Contains(w, []byte("ExecStart=/usr/bin/raftvip agent -witness")) || bytes.Contains(w, []byte("/usr/local/")) {
		t.Errorf("the packaged witness unit does not run /usr/bin/raftvip -witness (%v):\n%s", err, w)
	}
	if out := mustRun(t, time.Minute, r.path("/usr/bin/raftvip"), "version"); !strings.HasPrefix(out, "raftvip ") || strings.Contains(out, "dev") {
		t.Errorf("raftvip version = %q, want the build's version", out)
	}
	if conf := mustRun(t, time.Minute, "dpkg-query", "--root="+r.dir, "--showformat=${Conffiles}", "--show", "raftvip"); !strings.Contains(conf, "/etc/raftvip/raftvip.yaml ") {
		t.Errorf("conffiles: %q, want /etc/raftvip/raftvip.yaml", conf)
	}
	// Installed disabled: no symlink in any .wants directory.
	for _, p := range r.files() {
		if strings.Contains(p, ".wants/") {
			t.Errorf("the service is enabled on install: %s", p)
		}
	}
	if _, err := os.Lstat(hostState); (err == nil) != (hostErr == nil) {
		t.Errorf("installing into %s changed the host's %s", r.dir, hostState)
	}

	// The operator edits the config, adds the token and the agent writes
	// its state; a reinstall (as an upgrade would) keeps the edit.
	edited := []byte("# edited by the operator\nid: n7\n")
	if err := os.WriteFile(r.path("/etc/raftvip/raftvip.yaml"), edited, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path("/etc/raftvip/token"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.path("/var/lib/raftvip/raft.db"), []byte("state"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.dpkg("--install", deb)
	if got, _ := os.ReadFile(r.path("/etc/raftvip/raftvip.yaml")); !bytes.Equal(got, edited) {
		t.Errorf("reinstall replaced the edited conffile with:\n%s", got)
	}

	// Remove: the program goes, config and data stay.
	r.dpkg("--remove", "raftvip")
	if s := r.status(); s != "deinstall ok config-files" {
		t.Errorf("status after remove: %q", s)
	}
	for _, gone := range []string{"/usr/bin/raftvip", "/usr/lib/systemd/system/raftvip.service"} {
		if r.exists(gone) {
			t.Errorf("%s is left after remove", gone)
		}
	}
	for _, kept := range []string{"/etc/raftvip/raftvip.yaml", "/etc/raftvip/token", "/var/lib/raftvip/raft.db"} {
		if !r.exists(kept) {
			t.Errorf("%s is gone after remove, want it kept until purge", kept)
		}
	}

	// Purge: everything the package installed goes; the node's state in the
	// data dir and the operator's token stay (postrm says why).
	r.dpkg("--purge", "raftvip")
	if s := r.status(); s != "" && !strings.HasPrefix(s, "purge ok not-installed") {
		t.Errorf("status after purge: %q", s)
	}
	var left []string
	for _, p := range r.files() {
		if fi, err := os.Stat(r.path(p)); err == nil && !fi.IsDir() {
			left = append(left, p)
		}
	}
	if want := "/etc/raftvip/token /var/lib/raftvip/raft.db"; strings.Join(left, " ") != want {
		t.Errorf("after purge these files are left: %v; want only %s", left, want)
	}
	if r.exists("/etc/systemd/system/raftvip.service") {
		t.Error("the unit's mask is left after purge")
	}
}
