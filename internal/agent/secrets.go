package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/raftvip/raftvip/internal/pki"
)

// TLSFiles are the -tls-* and -insecure-plaintext settings, shared by the
// agent and the client commands.
type TLSFiles struct {
	Cert, Key, CA string
	Insecure      bool
}

// Validate wants all three files or -insecure-plaintext, and not both.
func (t TLSFiles) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"-tls-cert", t.Cert}, {"-tls-key", t.Key}, {"-tls-ca", t.CA}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	switch {
	case len(missing) == 3 && !t.Insecure:
		return errors.New("no TLS: give -tls-cert, -tls-key and -tls-ca (made with raftvip tls init and tls cert), " +
			"or -insecure-plaintext to run unauthenticated")
	case len(missing) == 3:
		return nil
	case t.Insecure:
		return errors.New("-insecure-plaintext and -tls-cert/-tls-key/-tls-ca exclude each other")
	case len(missing) > 0:
		return fmt.Errorf("-tls-cert, -tls-key and -tls-ca go together: %s missing", strings.Join(missing, " and "))
	}
	return nil
}

// Load reads and checks the three files; nil in plaintext mode.
func (t TLSFiles) Load(log *slog.Logger) (*pki.Identity, error) {
	if t.Insecure {
		return nil, nil
	}
	cert, err := os.ReadFile(t.Cert)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert: %w", err)
	}
	key, err := ReadSecret(t.Key, "-tls-key", log)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(t.CA)
	if err != nil {
		return nil, fmt.Errorf("-tls-ca: %w", err)
	}
	id, err := pki.Load(cert, key, ca, time.Now())
	if err != nil {
		return nil, fmt.Errorf("-tls-cert %s, -tls-key %s, -tls-ca %s: %w", t.Cert, t.Key, t.CA, err)
	}
	return id, nil
}

// ReadSecret reads a key or token file, warning when group or others may
// read it. Its content is never logged.
func ReadSecret(path, what string, log *slog.Logger) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("secret file is readable by group or others: chmod 600 it", "file", path, "flag", what,
			"mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return b, nil
}

// ReadToken reads and trims the cluster token; an empty file is an error since
// it would make every write look authorised with "".
func ReadToken(path string, log *slog.Logger) ([]byte, error) {
	b, err := ReadSecret(path, "token file", log)
	if err != nil {
		return nil, err
	}
	tok := []byte(strings.TrimSpace(string(b)))
	if len(tok) == 0 {
		return nil, fmt.Errorf("token file %s is empty", path)
	}
	return tok, nil
}
