// Package pkitest gives tests TLS configurations of a fresh cluster CA.
package pkitest

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/raftvip/raftvip/internal/pki"
)

// CA creates a new cluster CA.
func CA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(time.Now(), "")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Config issues a certificate for id by ca and returns its TLS config.
func Config(t testing.TB, ca *pki.CA, id string) *tls.Config {
	t.Helper()
	c, k, err := ca.Issue(id, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ident, err := pki.Load(c, k, pki.CertPEM(ca.Cert), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ident.TLSConfig()
}

// Configs returns TLS configs for ids, all of one new cluster CA.
func Configs(t testing.TB, ids ...string) []*tls.Config {
	t.Helper()
	ca := CA(t)
	out := make([]*tls.Config, len(ids))
	for i, id := range ids {
		out[i] = Config(t, ca, id)
	}
	return out
}
