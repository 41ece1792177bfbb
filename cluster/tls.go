package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// handshakeTimeout bounds a TLS handshake on the Raft port, so that a peer
// that connects and says nothing holds a goroutine only this long.
const handshakeTimeout = 5 * time.Second

// tlsStream is a raft.StreamLayer over mutual TLS on a tcpStream's listener.
// Both ends present a certificate of the cluster CA and verify the other's
// (conf comes from pki.Identity.TLSConfig).
//
// Accept does not handshake: raft's NetworkTransport accepts in one loop and
// hands each connection to its own goroutine, so a peer that stalls its
// handshake must not hold the loop. The handshake runs on the connection's
// first Read or Write, in that goroutine, with a deadline.
type tlsStream struct {
	*tcpStream // Addr and Close
	conf       *tls.Config
	log        *slog.Logger
	timeout    time.Duration
}

var _ raft.StreamLayer = (*tlsStream)(nil)

// newTLSStream carries s over TLS with conf.
func newTLSStream(s *tcpStream, conf *tls.Config, log *slog.Logger) (*tlsStream, error) {
	if conf == nil || len(conf.Certificates) == 0 && conf.GetCertificate == nil {
		return nil, errors.New("raft TLS: no certificate")
	}
	conf = conf.Clone()
	// Raft's connections never resume a session (each Dial starts afresh),
	// so tickets would only cost the server an encryption per connection;
	// and without them a server never sends a byte before a request, which
	// lets warmStream tell an idle spare from one its peer closed.
	conf.SessionTicketsDisabled = true
	return &tlsStream{tcpStream: s, conf: conf, log: log, timeout: handshakeTimeout}, nil
}

// Accept returns the next connection, its handshake still to come.
func (s *tlsStream) Accept() (net.Conn, error) {
	c, err := s.tcpStream.Accept()
	if err != nil {
		return nil, err
	}
	return &serverConn{Conn: tls.Server(c, s.conf), log: s.log, timeout: s.timeout}, nil
}

// Dial connects to a peer and completes the handshake, both within timeout;
// a peer whose certificate is not of this cluster is an error here. conf
// verifies the peer itself (pki: VerifyConnection), and peers are dialled by
// IP, so there is no server name to set.
func (s *tlsStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dialContext(ctx, address)
}

// dialContext is Dial until ctx ends (warmStream's spares).
func (s *tlsStream) dialContext(ctx context.Context, address raft.ServerAddress) (net.Conn, error) {
	c, err := s.tcpStream.dialContext(ctx, address)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(c, s.conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", address, err)
	}
	return tc, nil
}

// serverConn is an accepted connection that handshakes on first use.
type serverConn struct {
	*tls.Conn
	log     *slog.Logger
	timeout time.Duration
	once    sync.Once
	err     error
}

func (c *serverConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if err := c.Conn.HandshakeContext(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no TLS handshake within %s", c.timeout)
			}
			c.log.Warn("refused a raft connection: TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
			// raft's connection handler logs every error but io.EOF at error
			// level as "failed to decode incoming command"; the refusal is
			// logged above, once and with its reason, so raft sees an EOF.
			c.err = io.EOF
		}
	})
	return c.err
}

func (c *serverConn) Read(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(b)
}

func (c *serverConn) Write(b []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}
