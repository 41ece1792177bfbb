package cluster

import (
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStream is the plain TCP raft.StreamLayer (raft's own is not exported),
// listening on ln and advertising adv. tlsStream wraps it.
type tcpStream struct {
	ln  net.Listener
	adv net.Addr
}

var _ raft.StreamLayer = (*tcpStream)(nil)

// newTCPStream listens on bind; advertise is the address peers dial, nil for
// the listener's own.
func newTCPStream(bind string, advertise net.Addr) (*tcpStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("raft transport on %s: %w", bind, err)
	}
	return &tcpStream{ln: ln, adv: advertise}, nil
}

func (s *tcpStream) Accept() (net.Conn, error) { return s.ln.Accept() }

// Close stops accepting; connections already handed to raft stay open.
func (s *tcpStream) Close() error { return s.ln.Close() }

// Addr is the advertised address, as raft's TCPStreamLayer does.
func (s *tcpStream) Addr() net.Addr {
	if s.adv != nil {
		return s.adv
	}
	return s.ln.Addr()
}

func (s *tcpStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(address), timeout)
}
