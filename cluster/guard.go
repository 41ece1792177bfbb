package cluster

import (
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// memberGuard is a raft.StreamLayer that hangs up on inbound connections from
// hosts that are not in the Raft configuration, before raft reads a byte.
//
// raft's NetworkTransport trusts whoever connects. A well-formed
// AppendEntries of a higher term, 25 bytes, makes the leader step down and
// drop its VIPs. And it decodes what a connection sends with no size limit
// and no read deadline: a frame that claims 2^31 log entries and
// then sends one byte (an empty msgpack map) per entry makes the receiver
// allocate a raft.Log, about 100 bytes, per byte received: 16 MiB sent from
// one connection cost a node 1.5 GiB of heap, held for as long as the sender
// keeps the connection open (TestMemberGuard). Any host that reaches the
// Raft port can do both. Mutual TLS closes this to hosts without a member's
// certificate; the guard, without TLS, to hosts that do not use a member's
// address (a weaker bar: an address can be taken over on a LAN). It closes
// nothing for a member itself.
//
// Until follow is called, and while the configuration is empty (a new node
// waiting to be joined: the leader that adds it dials in), every host is
// accepted. So is every host when a member's address is a name rather than
// an IP, which the guard cannot match without DNS.
type memberGuard struct {
	raft.StreamLayer
	log *slog.Logger
	r   atomic.Pointer[raft.Raft]
}

func newMemberGuard(inner raft.StreamLayer, log *slog.Logger) *memberGuard {
	return &memberGuard{StreamLayer: inner, log: log}
}

// follow makes the guard admit only the members of r's latest configuration.
func (g *memberGuard) follow(r *raft.Raft) { g.r.Store(r) }

// Accept returns the next connection from a member; others are closed.
func (g *memberGuard) Accept() (net.Conn, error) {
	for {
		c, err := g.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		if g.admits(c.RemoteAddr()) {
			return c, nil
		}
		g.log.Warn("refused a Raft connection from a host that is not a member", "remote", c.RemoteAddr().String())
		c.Close()
	}
}

// admits reports whether a connection from remote may reach raft.
func (g *memberGuard) admits(remote net.Addr) bool {
	r := g.r.Load()
	if r == nil {
		return true
	}
	f := r.GetConfiguration()
	if f.Error() != nil || len(f.Configuration().Servers) == 0 {
		return true
	}
	from, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		ap, err := netip.ParseAddrPort(string(s.Address))
		if err != nil {
			return true // a host name: not ours to resolve
		}
		if ap.Addr().Unmap() == from.Addr().Unmap() {
			return true
		}
	}
	return false
}
