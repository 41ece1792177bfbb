package cluster

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// warmStream is a raft.StreamLayer that keeps a few connections to every
// other member open, handshake done, before raft asks for one.
//
// Why: raft's NetworkTransport dials a peer the first time it needs it and
// pools the connection afterwards, so the connections a handover needs are
// exactly the ones nobody has needed before. Followers only answer: the
// successor has never dialled the other nodes, so its RequestVote, and its
// first AppendEntries as leader, each waited for a TCP connect and a TLS
// handshake (ECDSA P-256, both sides verify a chain): a median of 3 to 6 ms
// each on the bench's shared 2-core machine (90th percentile 7 to 24 ms), two
// or three of them on the path of one handover (docs/benchmarks.md, "Graceful
// handover: where the milliseconds go").
//
// Dial hands out a spare if one is still open and dials otherwise; keep,
// run by Node.Run, dials the spares in the background and replaces those
// taken (once the election that took them is over) or closed by their peer.
type warmStream struct {
	raft.StreamLayer // Accept, Addr, Close, and Dial when no spare is ready
	dial             func(ctx context.Context, addr raft.ServerAddress) (net.Conn, error)
	log              *slog.Logger

	mu     sync.Mutex
	closed bool
	spares map[raft.ServerAddress][]net.Conn
	// takenAt is when raft last took a spare to each peer: keep replaces it
	// only warmSettle later.
	takenAt map[raft.ServerAddress]time.Time
	wake    chan struct{} // wakes keep: the members may have changed
}

var _ raft.StreamLayer = (*warmStream)(nil)

const (
	// warmSpares is how many spares keep holds per peer: a candidate takes
	// one for its RequestVote, and as leader it uses up to three at once
	// (heartbeats, the first AppendEntries, the pipeline), the vote's among
	// them once raft has pooled it.
	warmSpares = 3
	// warmSettle is how long after raft took a spare to a peer keep waits
	// before it dials a replacement: spares are taken in an election, and
	// handshakes then would compete for the CPU with the votes, the fsyncs
	// and the claim the clients are waiting for (seen in the bench: 10 to
	// 30 ms handshakes next to a takeover on the busy machine).
	warmSettle = time.Second
	// warmCheck is how often keep looks at the spares and the members
	// without being woken (by Node.changed).
	warmCheck = time.Second
	// warmDialTimeout bounds one spare's dial and handshake.
	warmDialTimeout = 5 * time.Second
	// warmRetry is the first wait after a failed dial, doubled after each
	// further failure up to warmRetryMax: a peer that is down is not dialled
	// in a loop, and one that is back gets its spares within seconds.
	warmRetry    = 250 * time.Millisecond
	warmRetryMax = 5 * time.Second
)

// newWarmStream wraps inner, whose Dial raft uses when no spare is ready;
// dial opens the spares.
func newWarmStream(inner raft.StreamLayer, dial func(context.Context, raft.ServerAddress) (net.Conn, error),
	log *slog.Logger) *warmStream {
	return &warmStream{StreamLayer: inner, dial: dial, log: log,
		spares: map[raft.ServerAddress][]net.Conn{}, takenAt: map[raft.ServerAddress]time.Time{},
		wake: make(chan struct{}, 1)}
}

// Dial returns an open spare to address, else a new connection.
func (w *warmStream) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	for {
		c := w.take(address)
		if c == nil {
			break
		}
		if idle(c) {
			return c, nil
		}
		c.Close()
	}
	return w.StreamLayer.Dial(address, timeout)
}

// poke makes keep look again now rather than at its next tick; it never
// blocks. Node.changed calls it, as the members can have changed.
func (w *warmStream) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take removes and returns a spare to address, or nil.
func (w *warmStream) take(address raft.ServerAddress) net.Conn {
	w.mu.Lock()
	defer w.mu.Unlock()
	cs := w.spares[address]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	w.spares[address] = cs[:len(cs)-1]
	w.takenAt[address] = time.Now()
	return c
}

// Close closes the spares, then the inner layer.
func (w *warmStream) Close() error {
	w.mu.Lock()
	w.closed = true
	spares := w.spares
	w.spares = map[raft.ServerAddress][]net.Conn{}
	w.mu.Unlock()
	for _, cs := range spares {
		for _, c := range cs {
			c.Close()
		}
	}
	return w.StreamLayer.Close()
}

// keep holds warmSpares open connections to every address peers returns
// until ctx ends; it waits for the dials it started before it returns.
func (w *warmStream) keep(ctx context.Context, peers func() []raft.ServerAddress) {
	tick := time.NewTicker(warmCheck)
	defer tick.Stop()
	var dials sync.WaitGroup
	defer dials.Wait()
	type dialed struct {
		addr raft.ServerAddress
		c    net.Conn
		err  error
	}
	results := make(chan dialed)
	var k keeping
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		want := peers()
		w.prune(want)
		now := time.Now()
		for _, a := range k.due(want, w.need, now) {
			dials.Go(func() {
				dctx, cancel := context.WithTimeout(ctx, warmDialTimeout)
				defer cancel()
				c, err := w.dial(dctx, a)
				select {
				case results <- dialed{a, c, err}:
				case <-ctx.Done():
					if c != nil {
						c.Close()
					}
				}
			})
		}
		if next, ok := k.nextWake(want, w.need, now); ok {
			retry.Reset(next.Sub(now))
		} else {
			retry.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case <-retry.C:
		case r := <-results:
			if k.done(r.addr, r.err, time.Now()) {
				w.log.Debug("cannot open a spare Raft connection; retrying", "peer", r.addr, "err", r.err)
			}
			if r.c != nil {
				w.add(r.addr, r.c)
			}
		case <-w.wake:
		case <-tick.C:
		}
	}
}

// keeping is keep's memory of its dials, by peer.
type keeping struct {
	dialing map[raft.ServerAddress]bool
	fails   map[raft.ServerAddress]int
	retry   map[raft.ServerAddress]time.Time
}

// due returns the peers of want to dial a spare to now: short of spares and
// not settling after a take (need says), no dial in flight, not waiting to
// retry. It notes them as dialling.
func (k *keeping) due(want []raft.ServerAddress, need func(raft.ServerAddress) (int, time.Time), now time.Time) []raft.ServerAddress {
	if k.dialing == nil {
		k.dialing, k.fails, k.retry = map[raft.ServerAddress]bool{}, map[raft.ServerAddress]int{}, map[raft.ServerAddress]time.Time{}
	}
	var out []raft.ServerAddress
	for _, a := range want {
		short, quiet := need(a)
		if short > 0 && !k.dialing[a] && !now.Before(k.retry[a]) && !now.Before(quiet) {
			k.dialing[a] = true
			out = append(out, a)
		}
	}
	return out
}

// done records the end of a dial to a, and reports whether it is the first
// failure after a success (the one worth logging).
func (k *keeping) done(a raft.ServerAddress, err error, now time.Time) bool {
	k.dialing[a] = false
	if err == nil {
		k.fails[a], k.retry[a] = 0, time.Time{}
		return false
	}
	k.fails[a]++
	k.retry[a] = now.Add(min(warmRetry<<min(k.fails[a]-1, 8), warmRetryMax))
	return k.fails[a] == 1
}

// nextWake returns the earliest time after now at which a peer of want that
// is short of spares may be dialled: its retry after a failure, or the end of
// its settling after a take.
func (k *keeping) nextWake(want []raft.ServerAddress, need func(raft.ServerAddress) (int, time.Time), now time.Time) (time.Time, bool) {
	var next time.Time
	for _, a := range want {
		short, quiet := need(a)
		if short == 0 || k.dialing[a] {
			continue
		}
		for _, t := range []time.Time{k.retry[a], quiet} {
			if t.After(now) && (next.IsZero() || t.Before(next)) {
				next = t
			}
		}
	}
	return next, !next.IsZero()
}

// add keeps c as a spare to addr, or closes it once the layer is closed.
func (w *warmStream) add(addr raft.ServerAddress, c net.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		c.Close()
		return
	}
	w.spares[addr] = append(w.spares[addr], c)
}

// count returns how many spares to addr are kept.
func (w *warmStream) count(addr raft.ServerAddress) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.spares[addr])
}

// need returns how many spares to addr are missing, and before when none
// may be dialled (warmSettle after raft last took one).
func (w *warmStream) need(addr raft.ServerAddress) (int, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var quiet time.Time
	if t, ok := w.takenAt[addr]; ok {
		quiet = t.Add(warmSettle)
	}
	return warmSpares - len(w.spares[addr]), quiet
}

// prune closes the spares to addresses not in want and those their peer
// closed (a restarted peer), so that keep replaces them before raft needs
// them.
func (w *warmStream) prune(want []raft.ServerAddress) {
	w.mu.Lock()
	var drop []net.Conn
	for a, cs := range w.spares {
		if !slices.Contains(want, a) {
			drop = append(drop, cs...)
			delete(w.spares, a)
			delete(w.takenAt, a)
			continue
		}
		live := cs[:0]
		for _, c := range cs {
			if idle(c) {
				live = append(live, c)
			} else {
				drop = append(drop, c)
			}
		}
		w.spares[a] = live
	}
	w.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// idle reports whether c, a connection nobody has used since it was opened,
// is still open with nothing to read: a raft server never speaks first and
// tlsStream sends no session tickets, so bytes waiting, an end of stream or
// an error all mean that the peer closed it or that it is of no use. It peeks
// at the socket without waiting and without reading, so c is left as it was.
func idle(c net.Conn) bool {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		c = nc.NetConn()
	}
	if tc, ok := c.(*trackedConn); ok {
		c = tc.Conn
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true // cannot tell: raft finds out on its first call
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	return err == nil && errors.Is(perr, syscall.EAGAIN)
}
