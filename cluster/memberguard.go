package cluster

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// memberGuardOpenAfter is how many heartbeat timeouts a follower may go without
// hearing from a leader before its guard admits every host (see memberGuard).
const memberGuardOpenAfter = 3

// memberGuard is a raft.StreamLayer that hangs up on inbound connections from
// hosts that are not in the Raft configuration, before raft reads a byte.
//
// raft's NetworkTransport trusts whoever connects. A well-formed
// AppendEntries of a higher term (33 bytes in TestMemberGuard) makes the
// leader step down and drop its VIPs. And it decodes what a connection sends
// with no size limit and no read deadline: a frame that claims 2^31 log
// entries and then sends one byte (an empty msgpack map) per entry makes the
// receiver allocate a raft.Log, about 100 bytes, per byte received, held for
// as long as the sender keeps the connection open. Any host that reaches the
// Raft port can do both. Mutual TLS closes this to hosts without a member's
// certificate; the guard, without TLS, to hosts that do not use a member's
// address (a weaker bar: an address can be taken over on a LAN). It closes
// nothing for a member itself.
//
// The guard judges by this node's own configuration, which can be out of
// date: a node that was down while a member joined from a new address does
// not know that address, and only the leader can tell it, by the very
// AppendEntries the guard would refuse if that member now leads. So the guard
// fails open: it guards a node that leads or that follows a leader it heard
// from within memberGuardOpenAfter heartbeat timeouts, and admits every host while
// the node is Candidate or a Follower cut off from any leader for longer
// (admitRaftConn). What this leaves open: while a node is cut off from its
// leader, any host that reaches its Raft port can feed it the attacks above,
// make it follow a leader of its own or exhaust its memory. A node in that
// state serves no VIP and the rest of the cluster goes on without it; an
// attacker who can cut a node off (a flood, a bridge loop) can reach it.
//
// Until follow is called, and while the configuration is empty (a new node
// waiting to be joined: the leader that adds it dials in), every host is
// accepted. So is every host when a member's address is a name rather than
// an IP, which the guard cannot match without DNS.
type memberGuard struct {
	raft.StreamLayer
	log        *slog.Logger
	staleAfter time.Duration
	r          atomic.Pointer[raft.Raft]
	refused    refusalLog
}

// newMemberGuard guards inner; staleAfter is how long a follower may go
// without contact from a leader before the guard opens.
func newMemberGuard(inner raft.StreamLayer, log *slog.Logger, staleAfter time.Duration) *memberGuard {
	return &memberGuard{StreamLayer: inner, log: log, staleAfter: staleAfter}
}

// follow makes the guard judge by r's state and latest configuration.
func (g *memberGuard) follow(r *raft.Raft) { g.r.Store(r) }

// Accept returns the next connection from a member; others are closed.
func (g *memberGuard) Accept() (net.Conn, error) {
	for {
		c, err := g.StreamLayer.Accept()
		if err != nil {
			return nil, err
		}
		if g.admits(c.RemoteAddr(), time.Now()) {
			return c, nil
		}
		g.refused.warn(g.log, c.RemoteAddr(), time.Now())
		c.Close()
	}
}

// admits reads what admitRaftConn decides on from raft.
func (g *memberGuard) admits(remote net.Addr, now time.Time) bool {
	r := g.r.Load()
	if r == nil {
		return true
	}
	f := r.GetConfiguration()
	if f.Error() != nil {
		return true
	}
	servers := f.Configuration().Servers
	addrs := make([]raft.ServerAddress, len(servers))
	for i, s := range servers {
		addrs[i] = s.Address
	}
	// An address that does not parse is the zero Addr, which no member has.
	from, _ := netip.ParseAddrPort(remote.String())
	return admitRaftConn(from.Addr(), addrs, r.State(), r.LastContact(), now, g.staleAfter)
}

// admitRaftConn reports whether a connection from remote may reach raft, on
// a node in state whose latest configuration lists servers and that last
// heard from a leader at lastContact (see memberGuard for why it fails open).
func admitRaftConn(remote netip.Addr, servers []raft.ServerAddress, state raft.RaftState,
	lastContact, now time.Time, staleAfter time.Duration) bool {
	switch {
	case len(servers) == 0:
		return true // a new node, waiting for the leader that adds it to dial in
	case state == raft.Candidate:
		return true // no leader; the winner may be a member this node does not know yet
	case state == raft.Follower && now.Sub(lastContact) > staleAfter:
		return true // cut off: the leader may be a member this node does not know yet
	}
	for _, a := range servers {
		ap, err := netip.ParseAddrPort(string(a))
		if err != nil {
			return true // a host name: not ours to resolve
		}
		if ap.Addr().Unmap() == remote.Unmap() {
			return true
		}
	}
	return false
}

// Limits of the guard's warnings: one line per remote IP per
// refusalLogEvery, for at most refusalLogHosts IPs at a time.
const (
	refusalLogEvery = time.Minute
	refusalLogHosts = 1024
)

// refusalLog keeps a host that keeps connecting from filling the journal
// with the guard's warnings: it logs a refusal once per remote IP per
// refusalLogEvery, and counts the ones in between in that IP's next line.
type refusalLog struct {
	mu   sync.Mutex
	seen map[netip.Addr]refusals
}

type refusals struct {
	logged     time.Time
	suppressed int
}

// warn logs the refusal of remote at now unless one from its IP was logged
// within refusalLogEvery.
func (l *refusalLog) warn(log *slog.Logger, remote net.Addr, now time.Time) {
	ap, _ := netip.ParseAddrPort(remote.String())
	if ok, suppressed := l.note(ap.Addr().Unmap(), now); ok {
		log.Warn("refused a Raft connection from a host that is not a member", "remote", remote.String(),
			"refused_unlogged", suppressed, "log_every", refusalLogEvery)
	}
}

// note records a refusal of ip at now. It reports whether to log it, and how
// many refusals of ip went unlogged since its last line. Once refusalLogHosts
// IPs were logged within refusalLogEvery, further IPs share one entry, the
// zero Addr, so that many hosts cannot grow the map or the journal without
// bound; their unlogged refusals are then counted in the next line of any of
// them.
func (l *refusalLog) note(ip netip.Addr, now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[netip.Addr]refusals{}
	}
	r, ok := l.seen[ip]
	if !ok && len(l.seen) >= refusalLogHosts {
		for k, v := range l.seen {
			// A pruned host's unlogged count is lost (it went quiet); the
			// shared entry stays, so the others' count is not.
			if k.IsValid() && now.Sub(v.logged) >= refusalLogEvery {
				delete(l.seen, k)
			}
		}
		if len(l.seen) >= refusalLogHosts {
			ip = netip.Addr{}
			r, ok = l.seen[ip]
		}
	}
	if ok && now.Sub(r.logged) < refusalLogEvery {
		r.suppressed++
		l.seen[ip] = r
		return false, 0
	}
	l.seen[ip] = refusals{logged: now}
	return true, r.suppressed
}
