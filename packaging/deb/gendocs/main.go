// Command gendocs writes raftvip's man page and bash completion from the
// usage and -h output of a raftvip binary, so that both list the commands and
// flags that binary has. packaging/deb/build.sh runs it on the binary it
// packages.
//
//	gendocs -bin bin/raftvip -version 1.2.3 -date 2026-01-02 -out DIR
//
// writes DIR/raftvip.1 and DIR/raftvip.bash-completion.
package main

import (
	"bytes"
	"context"
	"embed"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"text/template"
	"time"
)

//go:embed raftvip.1.tmpl completion.bash.tmpl
var templates embed.FS

func main() {
	bin := flag.String("bin", "bin/raftvip", "the raftvip binary whose help is documented")
	out := flag.String("out", ".", "directory for raftvip.1 and raftvip.bash-completion")
	version := flag.String("version", "dev", "version shown in the man page footer")
	date := flag.String("date", time.Now().UTC().Format("2006-01-02"), "date shown in the man page footer")
	flag.Parse()
	if err := run(*bin, *out, *version, *date); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}

func run(bin, out, version, date string) error {
	cmds, err := readCommands(bin)
	if err != nil {
		return err
	}
	man, err := manPage(cmds, version, date)
	if err != nil {
		return err
	}
	comp, err := completion(cmds)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "raftvip.1"), man, 0o644); err != nil {
		return fmt.Errorf("write man page: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "raftvip.bash-completion"), comp, 0o644); err != nil {
		return fmt.Errorf("write completion: %w", err)
	}
	return nil
}

// readCommands runs `bin help`, then `bin <command> -h` for each command it
// lists. Only help is asked for: nothing is started or contacted.
func readCommands(bin string) ([]Command, error) {
	usage, err := helpOutput(bin, "help")
	if err != nil {
		return nil, err
	}
	cmds, err := parseCommands(usage)
	if err != nil {
		return nil, err
	}
	// -id defaults to the host name: the build host's is no default of the
	// host the package is installed on.
	host, _ := os.Hostname()
	for i := range cmds {
		h, err := helpOutput(bin, append(append([]string{}, cmds[i].Path...), "-h")...)
		if err != nil {
			return nil, err
		}
		cmds[i].Flags = parseFlags(h)
		for j := range cmds[i].Flags {
			cmds[i].Flags[j].Usage = dropHostDefault(cmds[i].Flags[j].Usage, host)
		}
	}
	return cmds, nil
}

// helpOutput returns stdout and stderr together: the flag package prints -h
// to stderr, the main usage goes to stdout. The exit status is not checked,
// as `-h` exits 0 or 2 depending on the command; a binary that does not run
// at all is caught by the empty output.
func helpOutput(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &b, &b
	cmd.Env = append(os.Environ(), "RAFTVIP_ADDR=", "RAFTVIP_TOKEN_FILE=")
	if err := cmd.Run(); err != nil && b.Len() == 0 {
		return "", fmt.Errorf("%s %v: %w", bin, args, err)
	}
	return b.String(), nil
}

func render(name string, funcs template.FuncMap, data any) ([]byte, error) {
	t, err := template.New(name).Funcs(funcs).ParseFS(templates, name)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return b.Bytes(), nil
}
