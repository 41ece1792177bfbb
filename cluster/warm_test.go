package cluster

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/internal/pki/pkitest"
	"github.com/raftvip/raftvip/internal/testutil"
)

// noStream is a stream layer that nothing reaches: a warmStream over it
// must serve every Dial from its spares.
type noStream struct{}

func (noStream) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (noStream) Close() error              { return nil }
func (noStream) Addr() net.Addr            { return &net.TCPAddr{} }
func (noStream) Dial(raft.ServerAddress, time.Duration) (net.Conn, error) {
	return nil, errors.New("dialled past the spares")
}

// countingStream counts the connections it accepts.
type countingStream struct {
	raft.StreamLayer
	accepted atomic.Int32
}

func (s *countingStream) Accept() (net.Conn, error) {
	c, err := s.StreamLayer.Accept()
	if err == nil {
		s.accepted.Add(1)
	}
	return c, err
}

// warmPair is a member answering votes over TLS on loopback, and another
// member's transport dialling it through a warmStream, with the keeper
// running until stopKeeper or the end of the test.
type warmPair struct {
	server     *raft.NetworkTransport
	serverTCP  *tcpStream
	counted    *countingStream
	warm       *warmStream
	client     *raft.NetworkTransport
	stopKeeper func()
}

func newWarmPair(t *testing.T) *warmPair {
	t.Helper()
	ca := pkitest.CA(t)
	log, _ := testLogger(t)
	p := &warmPair{}
	var err error
	if p.serverTCP, err = newTCPStream("127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	ss, err := newTLSStream(p.serverTCP, pkitest.Config(t, ca, "n1"), log)
	if err != nil {
		t.Fatal(err)
	}
	p.counted = &countingStream{StreamLayer: ss}
	p.server = answering(t, p.counted)

	ctcp, err := newTCPStream("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := newTLSStream(ctcp, pkitest.Config(t, ca, "n2"), log)
	if err != nil {
		t.Fatal(err)
	}
	p.warm = newWarmStream(cs, cs.dialContext, log)
	p.client = raft.NewNetworkTransport(p.warm, 2, tlsRPCTimeout, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	var keeper sync.WaitGroup
	keeper.Go(func() {
		p.warm.keep(ctx, func() []raft.ServerAddress { return []raft.ServerAddress{p.server.LocalAddr()} })
	})
	p.stopKeeper = sync.OnceFunc(func() { cancel(); keeper.Wait() })
	t.Cleanup(func() {
		p.stopKeeper()
		p.client.Close()
	})
	return p
}

// ready waits until the keeper holds warmSpares spares to the server, then
// stops it, so that nothing dials behind the test's back.
func (p *warmPair) ready(t *testing.T) {
	t.Helper()
	addr := p.server.LocalAddr()
	testutil.Eventually(t, testutil.WaitLimit, "the spares", func() bool { return p.warm.count(addr) == warmSpares })
	p.stopKeeper()
}

// TestWarmVoteNeedsNoNewConnection: with its spares open, a member's first
// RequestVote to a peer it never called before goes out on a connection
// whose TLS handshake is already done: the peer accepts no new one.
func TestWarmVoteNeedsNoNewConnection(t *testing.T) {
	t.Parallel()
	p := newWarmPair(t)
	p.ready(t)
	before := p.counted.accepted.Load()
	if err := vote(p.client, p.server); err != nil {
		t.Fatalf("vote: %v", err)
	}
	if got := p.counted.accepted.Load(); got != before {
		t.Errorf("the peer accepted %d connections for the vote, want none", got-before)
	}
	if got := p.warm.count(p.server.LocalAddr()); got != warmSpares-1 {
		t.Errorf("%d spares left after the vote, want %d", got, warmSpares-1)
	}
}

// TestWarmDialSkipsSparesThePeerClosed: a peer that restarted closed the
// spares; the next RPC must not fail on one, but go out on a new connection.
func TestWarmDialSkipsSparesThePeerClosed(t *testing.T) {
	t.Parallel()
	p := newWarmPair(t)
	p.ready(t)
	addr := p.server.LocalAddr()
	p.serverTCP.mu.Lock()
	var conns []*trackedConn
	for c := range p.serverTCP.conns {
		conns = append(conns, c)
	}
	p.serverTCP.mu.Unlock()
	for _, c := range conns {
		c.Conn.Close()
	}
	testutil.Eventually(t, testutil.WaitLimit, "the peer's close to arrive", func() bool {
		p.warm.mu.Lock()
		defer p.warm.mu.Unlock()
		for _, c := range p.warm.spares[addr] {
			if idle(c) {
				return false
			}
		}
		return true
	})
	before := p.counted.accepted.Load()
	if err := vote(p.client, p.server); err != nil {
		t.Fatalf("vote after the peer closed the spares: %v", err)
	}
	if got := p.counted.accepted.Load(); got != before+1 {
		t.Errorf("the peer accepted %d connections for the vote, want 1", got-before)
	}
	if got := p.warm.count(addr); got != 0 {
		t.Errorf("%d spares kept after they were found closed, want 0", got)
	}
}

// TestWarmKeeper, in virtual time with a fake dialler: the keeper fills
// warmSpares per member, replaces one taken once warmSettle has passed, dials a new member as soon as
// it is poked, closes the spares of a member that left, and retries a member
// that does not answer with growing pauses rather than in a loop.
func TestWarmKeeper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		members := []raft.ServerAddress{"n2:7000", "n3:7000"}
		dials := map[raft.ServerAddress]int{}
		var peerEnds []net.Conn
		dial := func(_ context.Context, a raft.ServerAddress) (net.Conn, error) {
			mu.Lock()
			defer mu.Unlock()
			dials[a]++
			if a == "down:7000" {
				return nil, errors.New("connection refused")
			}
			c, peer := net.Pipe()
			peerEnds = append(peerEnds, peer)
			return c, nil
		}
		log, _ := testLogger(t)
		w := newWarmStream(noStream{}, dial, log)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.keep(ctx, func() []raft.ServerAddress {
				mu.Lock()
				defer mu.Unlock()
				return append([]raft.ServerAddress(nil), members...)
			})
		}()
		synctest.Wait()
		for _, a := range []raft.ServerAddress{"n2:7000", "n3:7000"} {
			if got := w.count(a); got != warmSpares {
				t.Fatalf("%d spares to %s, want %d", got, a, warmSpares)
			}
		}

		// Raft takes one in an election: it is replaced once that is over.
		if _, err := w.Dial("n2:7000", time.Second); err != nil {
			t.Fatalf("dial: %v", err)
		}
		w.poke() // the election's state changes
		synctest.Wait()
		if got := w.count("n2:7000"); got != warmSpares-1 {
			t.Errorf("%d spares to n2 right after one was taken, want %d", got, warmSpares-1)
		}
		time.Sleep(warmSettle)
		synctest.Wait()
		if got := w.count("n2:7000"); got != warmSpares {
			t.Errorf("%d spares to n2 %s after one was taken, want %d again", got, warmSettle, warmSpares)
		}

		// A member joins: Node.changed pokes, and its spares are there
		// before any virtual time has passed.
		mu.Lock()
		members = append(members, "n4:7000")
		mu.Unlock()
		t0 := time.Now()
		w.poke()
		synctest.Wait()
		if got := w.count("n4:7000"); got != warmSpares || time.Since(t0) != 0 {
			t.Errorf("%d spares to a new member after %s, want %d at once", got, time.Since(t0), warmSpares)
		}

		mu.Lock()
		members = []raft.ServerAddress{"n2:7000", "down:7000"}
		mu.Unlock()
		w.poke()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := w.count("n3:7000"); got != 0 {
			t.Errorf("%d spares to n3 after it left, want 0", got)
		}
		mu.Lock()
		tries := dials["down:7000"]
		mu.Unlock()
		// At once, then after 0.25, 0.5, 1, 2 and 4 s: six dials in 10 s.
		if tries != 6 {
			t.Errorf("%d dials in 10 s to a member that refuses, want 6", tries)
		}
		cancel()
		<-done
		w.Close()
		for _, c := range peerEnds {
			c.Close()
		}
	})
}
