package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStream is the plain TCP raft.StreamLayer (raft's own is not exported),
// listening on ln and advertising adv. tlsStream wraps it.
//
// It keeps the connections it made or accepted, and Close closes them too:
// raft's NetworkTransport, when closed, stops accepting but leaves each
// inbound connection's handler blocked in a read until the peer hangs up,
// which a live peer need not do for as long as it runs.
type tcpStream struct {
	ln  net.Listener
	adv net.Addr

	mu     sync.Mutex
	closed bool
	conns  map[*trackedConn]struct{}
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// newTCPStream listens on bind; advertise is the address peers dial, nil for
// the listener's own.
func newTCPStream(bind string, advertise net.Addr) (*tcpStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft transport on %s: %w", bind, err)
	}
	return &tcpStream{ln: ln, adv: advertise, conns: map[*trackedConn]struct{}{}}, nil
}

func (s *tcpStream) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Close stops accepting and closes every connection still open.
func (s *tcpStream) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	errs := []error{s.ln.Close()}
	for c := range conns {
		errs = append(errs, c.Conn.Close())
	}
	return errors.Join(errs...)
}

// track adds c to the open connections, or closes it if s is closed.
func (s *tcpStream) track(c net.Conn) (net.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, s: s}
	s.conns[tc] = struct{}{}
	return tc, nil
}

// trackedConn leaves its tcpStream's set when closed.
type trackedConn struct {
	net.Conn
	s    *tcpStream
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// Addr is the advertised address, as raft's TCPStreamLayer does.
func (s *tcpStream) Addr() net.Addr {
	if s.adv != nil {
		return s.adv
	}
	return s.ln.Addr()
}

func (s *tcpStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.dialContext(ctx, address)
}

// dialContext connects to a peer until ctx ends (warmStream's spares).
func (s *tcpStream) dialContext(ctx context.Context, address raft.ServerAddress) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", string(address))
	if err != nil {
		return nil, err
	}
	return s.track(c)
}
