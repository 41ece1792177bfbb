package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// built builds ./cmd/raftvip once for the tests that document it.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "gendocs")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "raftvip")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../../cmd/raftvip").CombinedOutput()
	if err != nil {
		return "", &exec.ExitError{Stderr: out}
	}
	return bin, nil
})

func raftvipBinary(t *testing.T) string {
	t.Helper()
	bin, err := built()
	if err != nil {
		t.Fatalf("build raftvip: %v %s", err, err.(*exec.ExitError).Stderr)
	}
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bin, err := built(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

func TestParseCommandsNarrowColumn(t *testing.T) {
	usage := "usage: x\n\ncommands:\n  agent            run it\n  vip add <cidr>   add a VIP\n  import-thing <f> a synopsis as wide as the column\n\nmore text\n"
	cmds, err := parseCommands(usage)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, c.Name()+"|"+c.Synopsis+"|"+c.Summary)
	}
	want := []string{"agent|agent|run it", "vip add|vip add <cidr>|add a VIP",
		"import-thing|import-thing <f>|a synopsis as wide as the column"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("parsed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseFlags(t *testing.T) {
	help := "usage: raftvip thing <f>\n\nSome text.\n  -force\n    \twith -o, overwrite\n  -o string\n    \twrite the config\n    \tto this file\n"
	got := parseFlags(help)
	if len(got) != 2 || got[0] != (Flag{Name: "force", Usage: "with -o, overwrite"}) ||
		got[1] != (Flag{Name: "o", Arg: "string", Usage: "write the config to this file"}) {
		t.Fatalf("parseFlags = %+v", got)
	}
}

func TestRoffEscapes(t *testing.T) {
	for in, want := range map[string]string{
		`-tls-ca`:        `\-tls\-ca`,
		`a\b`:            `a\eb`,
		`.not a request`: `\&.not a request`,
		`'neither`:       `\&'neither`,
	} {
		if got := roff(in); got != want {
			t.Errorf("roff(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestManPageRenders: the page lists every command and flag of the binary,
// and man renders it without a warning.
func TestManPageRenders(t *testing.T) {
	dir := t.TempDir()
	if err := run(raftvipBinary(t), dir, "1.2.3", "2026-01-02"); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "raftvip.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.SS "raftvip vip add <cidr>"`, `.B \-raft\-addr \fIstring\fR`,
		`.B \-insecure\-plaintext`, `.SS "raftvip import\-keepalived <f>"`, `.B \-force`, `"raftvip 1.2.3"`} {
		if !strings.Contains(string(page), want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	if host, _ := os.Hostname(); host != "" && strings.Contains(string(page), `(default "`+host+`")`) {
		t.Errorf("man page shows the build host's name %q as a default", host)
	}
	man, err := exec.LookPath("man")
	if err != nil {
		t.Skip("man is not installed: the page's rendering is not checked")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, man, "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", filepath.Join(dir, "raftvip.1"))
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "LC_ALL=C.UTF-8")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("man --warnings: %v\n%s", err, stderr.String())
	}
}

// TestCompletion sources the generated script in bash and asks it what it
// would offer at the cursor (the end of the line).
func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	dir := t.TempDir()
	if err := run(raftvipBinary(t), dir, "test", "2026-01-02"); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "raftvip.bash-completion")
	complete := func(line string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// COMP_WORDS as bash would split the line; a trailing space starts
		// an empty word.
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
			"COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n_raftvip\necho \"${COMPREPLY[*]}\"\n"
		out, err := exec.CommandContext(ctx, bash, "--norc", "--noprofile", "-c", prog).CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for line, want := range map[string]string{
		"raftvip v":                              "vip version",
		"raftvip vip ":                           "add rm ls",
		"raftvip vip add -la":                    "-label",
		"raftvip -x vip -addr 192.0.2.11:8080 r": "rm",
		"raftvip tls cert -":                     "-dir -host -id",
		"raftvip agent -tls-c":                   "-tls-ca -tls-cert",
		"raftvip agent -config x.yaml -boot":     "-bootstrap -bootstrap-expect",
		"raftvip agent -log-level ":              "debug info warn error",
		"raftvip agent -timing w":                "wan",
		"raftvip agent -id ":                     "",
		"raftvip status -js":                     "-json",
	} {
		if got := complete(line); got != want {
			t.Errorf("%q completes to %q, want %q", line, got, want)
		}
	}
}
