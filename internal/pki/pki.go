// Package pki is raftvip's small certificate authority: it creates a cluster
// CA and node certificates (ECDSA P-256, crypto/x509 only), loads them back,
// and builds the one *tls.Config every node uses for Raft and the API.
//
// A cluster is identified by a random cluster ID carried in its CA as the URI
// SAN raftvip://cluster/<id>; every certificate the CA issues carries
// raftvip://cluster/<id>/node/<node-id> and the node ID as CN. Peers are
// verified by chain (to the cluster CA) and cluster ID, not by host name: Raft
// dials the IP addresses in its configuration, and any certificate of the
// cluster CA is a member's (docs/security.md).
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"time"
)

// Validity of what the CA issues. There is no rotation tooling yet, so both
// are long; docs/security.md says how to replace them.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	NodeValidity = 5 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a peer whose clock is a little
	// behind accepts a certificate issued just now.
	clockSkew = time.Hour
)

// uriScheme and uriHost start every raftvip URI SAN.
const (
	uriScheme = "raftvip"
	uriHost   = "cluster"
)

// Sentinel errors callers branch on.
var (
	// ErrOtherCluster: a certificate is not of the expected cluster.
	ErrOtherCluster = errors.New("certificate of another cluster")
	// ErrNoClusterID: a certificate carries no raftvip cluster URI.
	ErrNoClusterID = errors.New("certificate carries no raftvip cluster ID")
)

// CA is a cluster's certificate authority.
type CA struct {
	Cert      *x509.Certificate
	Key       *ecdsa.PrivateKey
	ClusterID string
}

// NewCA creates a CA for a new cluster with a random cluster ID, or with id
// when not empty: a new CA for an existing cluster, whose data dirs record
// its ID (replacing a CA whose key leaked, docs/security.md).
func NewCA(now time.Time, id string) (*CA, error) {
	if id == "" {
		idb := make([]byte, 12)
		if _, err := rand.Read(idb); err != nil {
			return nil, fmt.Errorf("cluster ID: %w", err)
		}
		id = hex.EncodeToString(idb)
	} else if err := checkClusterID(id); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "raftvip cluster " + id + " CA"},
		URIs:                  []*url.URL{clusterURI(id, "")},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		// Node certificates only: the CA signs no intermediate.
		MaxPathLenZero: true,
		KeyUsage:       x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	cert, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, ClusterID: id}, nil
}

// Issue creates a key and a certificate for node id, usable as server and as
// client. hosts (IP addresses or DNS names) become SANs for clients that check
// host names (curl, browsers); raftvip itself does not. The caller validates
// id (fsm.ValidateNodeID in the CLI).
func (ca *CA) Issue(id string, hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	if id == "" {
		return nil, nil, errors.New("node ID is empty")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("key for %s: %w", id, err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: id},
		URIs:        []*url.URL{clusterURI(ca.ClusterID, id)},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(NodeValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter // a certificate cannot outlive its CA
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, err := sign(tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, err
	}
	kp, err := KeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	return CertPEM(cert), kp, nil
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, priv *ecdsa.PrivateKey) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// checkClusterID accepts what NewCA draws (24 hex digits), and other hex IDs
// of 8 to 64 digits.
func checkClusterID(id string) error {
	if _, err := hex.DecodeString(id); err != nil || len(id) < 8 || len(id) > 64 {
		return fmt.Errorf("cluster ID %q: want 8 to 64 hex digits, as raftvip tls init prints", id)
	}
	return nil
}

// clusterURI is raftvip://cluster/<id>, or .../node/<node> for a node.
func clusterURI(id, node string) *url.URL {
	u := &url.URL{Scheme: uriScheme, Host: uriHost, Path: "/" + id}
	if node != "" {
		u.Path += "/node/" + node
	}
	return u
}

// ClusterID returns the cluster ID a CA or node certificate carries.
func ClusterID(c *x509.Certificate) (string, error) {
	for _, u := range c.URIs {
		if u.Scheme != uriScheme || u.Host != uriHost {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
		if parts[0] != "" {
			return parts[0], nil
		}
	}
	return "", fmt.Errorf("%q: %w", c.Subject.CommonName, ErrNoClusterID)
}

// CertPEM encodes a certificate.
func CertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// KeyPEM encodes a private key as PKCS #8.
func KeyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseCA reads a CA back from its PEM files (tls cert needs the key).
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert("CA certificate", certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("CA certificate %q is not a CA", cert.Subject.CommonName)
	}
	id, err := ClusterID(cert)
	if err != nil {
		return nil, err
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("CA key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("CA key does not match the CA certificate")
	}
	return &CA{Cert: cert, Key: key, ClusterID: id}, nil
}

func parseCert(what string, b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM CERTIFICATE block", what)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return c, nil
}

// Identity is a node's (or an operator's) certificate and key with the cluster
// CA they belong to, checked against each other.
type Identity struct {
	// ID is the certificate's CN: the node ID, or "admin" for an operator.
	ID        string
	ClusterID string
	Cert      tls.Certificate
	CA        *x509.Certificate
	pool      *x509.CertPool
}

// Load parses the three PEM files and checks that they belong together: the
// key matches the certificate, the certificate is signed by the CA, valid now
// and usable for server and client auth, and both carry the same cluster ID.
func Load(certPEM, keyPEM, caPEM []byte, now time.Time) (*Identity, error) {
	ca, err := parseCert("CA certificate", caPEM)
	if err != nil {
		return nil, err
	}
	clusterID, err := ClusterID(ca)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	if _, err := parseCert("certificate", certPEM); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The standard library says "private key does not match public key"
		// or names the PEM problem.
		return nil, fmt.Errorf("certificate and key: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		if err := verify(pair.Leaf, pool, nil, usage, clusterID, now); err != nil {
			return nil, fmt.Errorf("certificate %q: %w", pair.Leaf.Subject.CommonName, err)
		}
	}
	return &Identity{ID: pair.Leaf.Subject.CommonName, ClusterID: clusterID, Cert: pair, CA: ca, pool: pool}, nil
}

// verify checks leaf's chain to the CA in roots for usage at now, and that it
// carries clusterID.
func verify(leaf *x509.Certificate, roots, inters *x509.CertPool, usage x509.ExtKeyUsage, clusterID string, now time.Time) error {
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{usage}})
	if err != nil {
		return fmt.Errorf("not valid for the cluster CA: %w", err)
	}
	id, err := ClusterID(leaf)
	if err != nil {
		return err
	}
	if id != clusterID {
		return fmt.Errorf("cluster %s, want %s: %w", id, clusterID, ErrOtherCluster)
	}
	return nil
}

// TLSConfig returns the configuration for both ends of every raftvip
// connection, Raft and API alike: TLS 1.3 only, this identity's certificate,
// and a peer certificate required and verified against the cluster CA and
// cluster ID. Host names are not verified (see the package comment).
func (id *Identity) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{id.Cert},
		// Server side: the standard library verifies the client's chain.
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  id.pool,
		// Client side: the standard library would check the host name, which
		// peers dialled by IP do not carry; VerifyConnection checks the chain.
		InsecureSkipVerify: true,
		VerifyConnection:   id.verifyConnection,
	}
}

// verifyConnection runs on both ends after the handshake. On the server end the
// standard library has already verified the client's chain (VerifiedChains is
// set); on the client end it has not (InsecureSkipVerify), so the chain is
// verified here. Both ends then check the cluster ID.
func (id *Identity) verifyConnection(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("raftvip: the peer sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	usage := x509.ExtKeyUsageClientAuth
	if len(cs.VerifiedChains) == 0 {
		usage = x509.ExtKeyUsageServerAuth
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if err := verify(leaf, id.pool, inter, usage, id.ClusterID, time.Now()); err != nil {
		return fmt.Errorf("raftvip: peer certificate %q: %w", leaf.Subject.CommonName, err)
	}
	return nil
}
