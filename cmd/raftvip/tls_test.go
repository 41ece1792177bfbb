package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSCommands: init and cert write the files the docs name, keys 0600,
// and never overwrite one.
func TestTLSCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	var out strings.Builder
	if err := runTLS([]string{"init", "-dir", dir}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "raftvip tls cert -dir "+dir+" -id") {
		t.Errorf("init does not print the next command:\n%s", out.String())
	}
	out.Reset()
	if err := runTLS([]string{"cert", "-dir", dir, "-id", "n2", "-host", "192.0.2.12,n2.example"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "-tls-cert n2.pem -tls-key n2-key.pem -tls-ca ca.pem") {
		t.Errorf("cert does not print the flags:\n%s", out.String())
	}
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "ca-key.pem": 0o600, "n2.pem": 0o644, "n2-key.pem": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		// The umask may only take permissions away.
		if fi.Mode().Perm()&^mode != 0 {
			t.Errorf("%s has mode %04o, want at most %04o", name, fi.Mode().Perm(), mode)
		}
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	key, _ := os.ReadFile(filepath.Join(dir, "n2-key.pem"))
	for _, args := range [][]string{{"init", "-dir", dir}, {"cert", "-dir", dir, "-id", "n2"}} {
		if err := runTLS(args, &out, &out); err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
			t.Errorf("tls %s again = %v, want a refusal to overwrite", args[0], err)
		}
	}
	ca2, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	key2, _ := os.ReadFile(filepath.Join(dir, "n2-key.pem"))
	if string(ca) != string(ca2) || string(key) != string(key2) {
		t.Error("a refused command changed the files")
	}
	for _, args := range [][]string{
		{"cert", "-dir", dir, "-id", "../n3"},
		{"cert", "-dir", dir},
		{"cert", "-dir", t.TempDir(), "-id", "n3"}, // no CA there
	} {
		if err := runTLS(args, &out, &out); err == nil {
			t.Errorf("tls %q succeeded", args)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "n3.pem")); err == nil {
		t.Error("an ID with a path escaped the directory")
	}
}
