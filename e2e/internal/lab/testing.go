package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// RequireRoot skips t unless this process is root, the one condition under
// which network namespaces can be built. With CI=true it fails instead: CI
// runs as root, so a skip there would hide that the tests never ran.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("needs root to build network namespaces, and CI=true: refusing to skip")
	}
	t.Skip("needs root to build network namespaces")
}

// ForTest builds a lab for t (after RequireRoot), logging to t, with its logs
// in a test temp directory. Cleanup prints the tail of every process log when
// t failed, then closes the lab.
func ForTest(t testing.TB, opts Options) *Lab {
	t.Helper()
	RequireRoot(t)
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	l, err := New(context.Background(), opts)
	if err != nil {
		t.Fatalf("build lab: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(l.Tails(30))
		}
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// Tails returns the last n lines of every process log in Dir, each under a
// header with the file name, for a failing test to print.
func (l *Lab) Tails(n int) string {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return fmt.Sprintf("lab logs: %v", err)
	}
	var b bytes.Buffer
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(l.dir, e.Name()))
		if err != nil {
			fmt.Fprintf(&b, "== %s: %v\n", e.Name(), err)
			continue
		}
		fmt.Fprintf(&b, "== %s (last %d lines)\n%s\n", e.Name(), n, tail(data, n))
	}
	return b.String()
}

func tail(data []byte, n int) []byte {
	data = bytes.TrimRight(data, "\n")
	for i := len(data) - 1; i >= 0; i-- {
		if data[i] == '\n' {
			if n--; n == 0 {
				return data[i+1:]
			}
		}
	}
	return data
}
