package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/raftvip/raftvip/internal/keepalived"
)

const importUsage = `usage: raftvip import-keepalived [-o file [-force]] <keepalived.conf>

Prints a raftvip agent config equivalent to a keepalived config (its
vrrp_instance, vrrp_script and notify settings). Every statement that does not
carry over is named with its file:line on stderr and in comments at the top of
the output. Run it on each node: priorities and interfaces are per node.

Exit status: 0 the translation is complete; 1 something could not be
translated, but a config was still printed; 2 bad usage, or a keepalived
config that cannot be read at all.

Flags:
`

// runImport is raftvip import-keepalived.
func runImport(args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("import-keepalived", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.Usage = func() {
		fmt.Fprint(stderr, importUsage)
		fset.PrintDefaults()
	}
	out := fset.String("o", "", "write the config to this file instead of stdout")
	force := fset.Bool("force", false, "with -o, overwrite an existing file")
	src, err := importArgs(fset, args)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(*out); err == nil && !*force {
		// Checked again when the file is created; this spares the user the
		// list of findings before the refusal.
		return fmt.Errorf("%w: -o %s exists: give -force to overwrite it", errUsage, *out)
	}
	nodes, err := keepalived.Parse(keepalived.OSFS{}, src)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	r := keepalived.Translate(nodes)
	untranslated := 0
	for _, f := range r.Findings {
		label := "note"
		if f.Severity == keepalived.Untranslated {
			label = "not translated"
			untranslated++
		}
		fmt.Fprintf(stderr, "%s: %s\n", label, f)
	}
	if err := writeOutput(keepalived.Render(r, src), *out, *force, stdout); err != nil {
		return err
	}
	if untranslated > 0 {
		return fmt.Errorf("not all of %s was translated: %d findings, listed above and at the top of the config", src, untranslated)
	}
	return nil
}

// importArgs parses flags given before or after the one file name.
func importArgs(fset *flag.FlagSet, args []string) (string, error) {
	if err := fset.Parse(args); err != nil {
		return "", usageError(err)
	}
	if fset.NArg() == 0 {
		fset.Usage()
		return "", fmt.Errorf("%w: want the keepalived config file", errUsage)
	}
	src := fset.Arg(0)
	if err := fset.Parse(fset.Args()[1:]); err != nil {
		return "", usageError(err)
	}
	if fset.NArg() > 0 {
		return "", fmt.Errorf("%w: unexpected argument %q: want one keepalived config file", errUsage, fset.Arg(0))
	}
	return src, nil
}

// writeOutput writes the config to stdout, or to path: never over an
// existing file unless force, so that a live raftvip config is not lost.
func writeOutput(b []byte, path string, force bool, stdout io.Writer) error {
	if path == "" {
		_, err := stdout.Write(b)
		return err
	}
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, mode, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: -o %s exists: give -force to overwrite it", errUsage, path)
	}
	if err != nil {
		return fmt.Errorf("-o: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
