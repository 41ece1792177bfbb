package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"
)

// now is the real time: the handshake tests verify at the wall clock.
var now = time.Now()

func newCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA(now, "")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func issue(t *testing.T, ca *CA, id string) (certPEM, keyPEM []byte) {
	t.Helper()
	c, k, err := ca.Issue(id, []string{"192.0.2.11", "n1.example"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return c, k
}

func identity(t *testing.T, ca *CA, id string) *Identity {
	t.Helper()
	c, k := issue(t, ca, id)
	ident, err := Load(c, k, CertPEM(ca.Cert), now)
	if err != nil {
		t.Fatal(err)
	}
	return ident
}

func TestRoundTrip(t *testing.T) {
	ca := newCA(t)
	if len(ca.ClusterID) != 24 {
		t.Errorf("cluster ID %q, want 24 hex digits", ca.ClusterID)
	}
	kp, err := KeyPEM(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseCA(CertPEM(ca.Cert), kp)
	if err != nil {
		t.Fatal(err)
	}
	if back.ClusterID != ca.ClusterID || !back.Key.Equal(ca.Key) {
		t.Fatalf("ParseCA = cluster %s; want %s and the same key", back.ClusterID, ca.ClusterID)
	}
	ident := identity(t, back, "n1")
	if ident.ID != "n1" || ident.ClusterID != ca.ClusterID {
		t.Fatalf("Load = %s of cluster %s, want n1 of %s", ident.ID, ident.ClusterID, ca.ClusterID)
	}
	leaf := ident.Cert.Leaf
	if got := leaf.URIs[0].String(); got != "raftvip://cluster/"+ca.ClusterID+"/node/n1" {
		t.Errorf("node URI %s", got)
	}
	if len(leaf.IPAddresses) != 1 || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "n1.example" {
		t.Errorf("SANs: IPs %v, DNS %v; want 192.0.2.11 and n1.example", leaf.IPAddresses, leaf.DNSNames)
	}
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("key %T, want ECDSA", leaf.PublicKey)
	}
}

func TestNewCAWithClusterID(t *testing.T) {
	ca := newCA(t)
	again, err := NewCA(now, ca.ClusterID)
	if err != nil || again.ClusterID != ca.ClusterID || again.Key.Equal(ca.Key) {
		t.Fatalf("NewCA with the cluster's ID = %v; want the same ID and a new key", err)
	}
	// The old CA's certificates are not valid under the new one.
	cert, key := issue(t, ca, "n1")
	if _, err := Load(cert, key, CertPEM(again.Cert), now); err == nil {
		t.Error("a certificate of the replaced CA was accepted")
	}
	for _, bad := range []string{"xyz", "12", "../../etc"} {
		if _, err := NewCA(now, bad); err == nil {
			t.Errorf("NewCA(%q) accepted", bad)
		}
	}
}

func TestLoadRefuses(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	cert, key := issue(t, ca, "n1")
	_, otherKey := issue(t, ca, "n2")
	foreignCert, foreignKey := issue(t, other, "n1")
	// Same CA key, another cluster ID: only a forged or misused CA makes this.
	forger := *ca
	forger.ClusterID = other.ClusterID
	forgedCert, forgedKey := issue(t, &forger, "n1")
	caPEM := CertPEM(ca.Cert)
	tests := []struct {
		name            string
		cert, key, caPE []byte
		at              time.Time
		want            string
		is              error
	}{
		{"bad PEM cert", []byte("junk"), key, caPEM, now, "no PEM CERTIFICATE", nil},
		{"bad PEM CA", cert, key, []byte("junk"), now, "CA certificate: no PEM", nil},
		{"key of another cert", cert, otherKey, caPEM, now, "does not match", nil},
		{"other CA", foreignCert, foreignKey, caPEM, now, "unknown authority", nil},
		{"other cluster ID", forgedCert, forgedKey, caPEM, now, "cluster " + other.ClusterID, ErrOtherCluster},
		{"expired", cert, key, caPEM, now.Add(NodeValidity + time.Hour), "expired", nil},
		{"CA without cluster ID", cert, key, CertPEM(plainCA(t)), now, "no raftvip cluster ID", ErrNoClusterID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.cert, tt.key, tt.caPE, tt.at)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load = %v, want an error containing %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("Load = %v, want %v", err, tt.is)
			}
		})
	}
}

// plainCA is a CA certificate without raftvip's cluster URI.
func plainCA(t *testing.T) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "some CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	c, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadRefusesServerOnlyCertificate(t *testing.T) {
	ca := newCA(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "web"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), URIs: []*url.URL{clusterURI(ca.ClusterID, "web")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	c, err := sign(tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := KeyPEM(key)
	if _, err := Load(CertPEM(c), kp, CertPEM(ca.Cert), now); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Fatalf("Load of a server-only certificate = %v, want a key usage error", err)
	}
}

// handshake runs a TLS handshake between client and server configs over a
// pipe and returns each side's error (the server's includes reading the first
// byte, since in TLS 1.3 the client finishes before the server checks it).
func handshake(t *testing.T, client, server *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	// Loopback TCP, not net.Pipe: an unbuffered pipe deadlocks when both ends
	// send an alert at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		b, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		s := tls.Server(b, server)
		err = s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{1})
		}
		s.Close()
		done <- err
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := tls.Client(a, client)
	clientErr = c.Handshake()
	if clientErr == nil {
		_, clientErr = c.Read(make([]byte, 1))
	}
	c.Close()
	return clientErr, <-done
}

func TestTLSConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("handshakes")
	}
	ca, other := newCA(t), newCA(t)
	n1, n2 := identity(t, ca, "n1").TLSConfig(), identity(t, ca, "n2").TLSConfig()
	foreign := identity(t, other, "n1").TLSConfig()
	if n1.MinVersion != tls.VersionTLS13 {
		t.Fatalf("MinVersion %x, want TLS 1.3", n1.MinVersion)
	}
	if c, s := handshake(t, n1, n2); c != nil || s != nil {
		t.Fatalf("same cluster: client %v, server %v", c, s)
	}
	// A foreign client that does not check the server: the server refuses it.
	trusting := foreign.Clone()
	trusting.VerifyConnection = nil
	// Send the certificate even though the server asks for another CA's.
	trusting.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &foreign.Certificates[0], nil
	}
	if _, s := handshake(t, trusting, n2); s == nil || !strings.Contains(s.Error(), "unknown authority") {
		t.Errorf("foreign client accepted: server error %v", s)
	}
	// A foreign server: the client refuses it.
	if c, _ := handshake(t, n1, foreign); c == nil || !strings.Contains(c.Error(), "unknown authority") {
		t.Errorf("foreign server accepted: client error %v", c)
	}
	// Signed by the cluster CA but naming another cluster: refused too.
	forger := *ca
	forger.ClusterID = other.ClusterID
	fc, fk := issue(t, &forger, "n3")
	forged, err := tls.X509KeyPair(fc, fk)
	if err != nil {
		t.Fatal(err)
	}
	trusting.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &forged, nil }
	if _, s := handshake(t, trusting, n2); !errors.Is(s, ErrOtherCluster) {
		t.Errorf("client of another cluster ID: server error %v, want ErrOtherCluster", s)
	}
	// No client certificate at all.
	anon := &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}
	if _, s := handshake(t, anon, n2); s == nil || !strings.Contains(s.Error(), "certificate") {
		t.Errorf("client without certificate accepted: server error %v", s)
	}
	// TLS 1.2 only: refused.
	old := n1.Clone()
	old.MinVersion, old.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	if _, s := handshake(t, old, n2); s == nil {
		t.Error("TLS 1.2 client accepted")
	}
}
