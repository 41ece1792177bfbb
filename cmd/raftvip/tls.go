package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/pki"
)

// File names in a `raftvip tls` directory.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca-key.pem"
)

// runTLS is `raftvip tls init|cert`: the cluster's certificate authority.
func runTLS(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "init" && args[0] != "cert") {
		return fmt.Errorf("%w: tls needs init or cert", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("tls "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", ".", "directory of the CA files (ca.pem, ca-key.pem) and of the certificates made")
	var id, clusterID string
	var hosts listFlag
	if sub == "init" {
		fs.StringVar(&clusterID, "cluster-id", "", "give the new CA this existing cluster's ID, to replace its CA (default: a new random ID)")
	}
	if sub == "cert" {
		fs.StringVar(&id, "id", "", "node ID (the agent's -id), or a name such as admin for an operator (required)")
		fs.Var(&hosts, "host", "comma-separated IP addresses and DNS names to add as SANs, for clients that check host names")
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if sub == "init" {
		return tlsInit(*dir, clusterID, stdout)
	}
	if err := fsm.ValidateNodeID("-id", id); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return tlsCert(*dir, id, hosts, stdout)
}

func tlsInit(dir, clusterID string, stdout io.Writer) error {
	ca, err := pki.NewCA(time.Now(), clusterID)
	if err != nil {
		return fmt.Errorf("-cluster-id: %w", err)
	}
	key, err := pki.KeyPEM(ca.Key)
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, caCertFile), filepath.Join(dir, caKeyFile)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-dir: %w", err)
	}
	if err := writeNew([]newFile{{keyPath, key, 0o600}, {certPath, pki.CertPEM(ca.Cert), 0o644}}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, `created the CA of a new cluster, cluster ID %s, valid until %s:
  %s  CA certificate: every node and client gets a copy (-tls-ca)
  %s  CA private key (0600): whoever holds it can make members; keep it off the nodes
next, one certificate per node (and one for the operator's CLI):
  raftvip tls cert -dir %s -id <node-id> [-host <ip>,<dns-name>]
`, ca.ClusterID, ca.Cert.NotAfter.Format(time.DateOnly), certPath, keyPath, dir)
	return nil
}

func tlsCert(dir, id string, hosts []string, stdout io.Writer) error {
	caCert, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if err != nil {
		return fmt.Errorf("CA certificate (make one with raftvip tls init -dir %s): %w", dir, err)
	}
	caKey, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return fmt.Errorf("CA key: %w", err)
	}
	ca, err := pki.ParseCA(caCert, caKey)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	cert, key, err := ca.Issue(id, hosts, time.Now())
	if err != nil {
		return err
	}
	certPath, keyPath := filepath.Join(dir, id+".pem"), filepath.Join(dir, id+"-key.pem")
	if err := writeNew([]newFile{{keyPath, key, 0o600}, {certPath, cert, 0o644}}); err != nil {
		return err
	}
	caPath := filepath.Join(dir, caCertFile)
	fmt.Fprintf(stdout, `created a certificate for %s in cluster %s (server and client auth, SANs: %s):
  %s  certificate (-tls-cert)
  %s  private key (0600, -tls-key): belongs on %s only
next: copy %s, %s and %s to %s, then start it with
  -tls-cert %s -tls-key %s -tls-ca %s
`, id, ca.ClusterID, orDash(strings.Join(hosts, ",")), certPath, keyPath, id,
		caPath, certPath, keyPath, id, filepath.Base(certPath), filepath.Base(keyPath), caCertFile)
	return nil
}

type newFile struct {
	path string
	data []byte
	mode fs.FileMode
}

// writeNew creates every file, refusing to overwrite any: a CA or key
// overwritten by mistake cannot be recovered. When one fails, those already
// written are removed.
func writeNew(files []newFile) error {
	for _, f := range files {
		if _, err := os.Lstat(f.path); err == nil {
			return fmt.Errorf("%s already exists; refusing to overwrite it", f.path)
		}
	}
	var done []string
	for _, f := range files {
		err := writeExclusive(f)
		if err != nil {
			for _, p := range done {
				_ = os.Remove(p)
			}
			return err
		}
		done = append(done, f.path)
	}
	return nil
}

func writeExclusive(f newFile) error {
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", f.path, err)
	}
	_, err = fh.Write(f.data)
	if err = errors.Join(err, fh.Sync(), fh.Close()); err != nil {
		_ = os.Remove(f.path)
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	return nil
}
