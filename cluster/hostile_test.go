package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/fsm"
)

// freePort returns a 127.0.0.1 address nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startTCP opens node id on a real TCP transport on 127.0.0.1 and runs it
// until the test ends; it returns the node and its Raft address.
func (c *testCluster) startTCP(id string) (*Node, string) {
	c.t.Helper()
	addr := freePort(c.t)
	n, err := Open(Config{ID: id, RaftBind: addr, APIAddr: "api-" + id, Timing: testTiming(),
		Logger: c.log.With("node", id), InMemory: true})
	if err != nil {
		c.t.Fatalf("open %s: %v", id, err)
	}
	c.run(id, n)
	return n, addr
}

// Raft's NetworkTransport reads one RPC type byte, then a msgpack body.
const (
	rpcAppendEntries    = 0
	rpcRequestVote      = 1
	rpcInstallSnapshot  = 2
	rpcRequestPreVote   = 4
	msgpackFixmap1      = 0x81
	msgpackArray32      = 0xdd
	msgpackBin32        = 0xc6
	msgpackStr32        = 0xdb
	msgpackMap32        = 0xdf
	msgpackEmptyFixmap  = 0x80
	msgpackUint64       = 0xcf
	hostileMaxLen32     = 1<<31 - 1
	hostileFrameTimeout = 2 * time.Second
)

// fixstr is s as a msgpack fixstr (s shorter than 32 bytes).
func fixstr(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }

// be32 is n as 4 big-endian bytes, msgpack's length encoding.
func be32(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// hostileFrames are what an intruder on the LAN could send to a Raft port:
// random bytes, frames cut short, and frames whose length fields claim 2^31
// elements or bytes that never come.
func hostileFrames(rng *rand.Rand) map[string][]byte {
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	// An AppendEntries header from a "leader" of term 1, cut off before its
	// entries: the node must wait or give up, never act on it.
	appendHead := slices.Concat([]byte{rpcAppendEntries, 0x82},
		fixstr("Term"), []byte{msgpackUint64}, binary.BigEndian.AppendUint64(nil, 1),
		fixstr("Entries"), []byte{msgpackArray32}, be32(3))
	frames := map[string][]byte{
		"random bytes":            random,
		"unknown rpc type":        {0x63, 0x80},
		"type byte only":          {rpcAppendEntries},
		"truncated append":        appendHead[:len(appendHead)-3],
		"append without entries":  appendHead,
		"2^31 entries":            slices.Concat([]byte{rpcAppendEntries, msgpackFixmap1}, fixstr("Entries"), []byte{msgpackArray32}, be32(hostileMaxLen32)),
		"2^31-byte leader":        slices.Concat([]byte{rpcAppendEntries, msgpackFixmap1}, fixstr("Leader"), []byte{msgpackBin32}, be32(hostileMaxLen32), []byte("x")),
		"2^31-byte key":           slices.Concat([]byte{rpcRequestVote, msgpackFixmap1, msgpackStr32}, be32(hostileMaxLen32), []byte("Term")),
		"2^31-pair map":           slices.Concat([]byte{rpcRequestPreVote, msgpackMap32}, be32(hostileMaxLen32), fixstr("Term"), []byte{1}),
		"2^31-byte snapshot meta": slices.Concat([]byte{rpcInstallSnapshot, msgpackFixmap1}, fixstr("Peers"), []byte{msgpackBin32}, be32(hostileMaxLen32)),
	}
	for range 8 {
		cut := 1 + rng.IntN(len(appendHead)-1)
		frames[fmt.Sprintf("append cut at %d", cut)] = appendHead[:cut]
	}
	return frames
}

// sendFrame connects to addr, writes frame, and closes after the node
// answers, closes or hostileFrameTimeout passes, whichever comes first.
func sendFrame(addr string, frame []byte) error {
	conn, err := net.DialTimeout("tcp", addr, hostileFrameTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(hostileFrameTimeout))
	if _, err := conn.Write(frame); err != nil {
		return nil // the node closed on us mid-frame: fine
	}
	_, _ = conn.Read(make([]byte, 1))
	return nil
}

// TestHostileRaftPeer: a host that reaches the Raft port of every node of a
// three-node cluster on TCP sends random bytes, truncated frames and frames
// claiming 2^31-element arrays, many times over. The leader stays leader in
// the same term, nobody else holds, the replicated state is unchanged, the
// cluster still commits, and the heap stays within bounds.
func TestHostileRaftPeer(t *testing.T) {
	c := newTestCluster(t)
	var nodes []*Node
	var addrs []string
	for i := 1; i <= 3; i++ {
		n, addr := c.startTCP(fmt.Sprintf("n%d", i))
		nodes, addrs = append(nodes, n), append(addrs, addr)
	}
	if err := nodes[0].Bootstrap(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "n1 to hold the VIPs", func() bool { return nodes[0].Status().Holder })
	ctx := context.Background()
	for i := 1; i < 3; i++ {
		if err := nodes[0].Join(ctx, fmt.Sprintf("n%d", i+1), addrs[i], fmt.Sprintf("api-n%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[0].Apply(ctx, fsm.AddVIP(vip("192.0.2.101/24"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every node to see three members and the VIP", func() bool {
		for _, n := range nodes {
			if st := n.Status(); len(st.Members) != 3 || len(st.VIPs) != 1 {
				return false
			}
		}
		return true
	})
	before := nodes[0].Status()
	wantState := nodes[0].fsm.State()
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)

	peak := watchHeap(t)
	rng := rand.New(rand.NewPCG(1, 2))
	frames := hostileFrames(rng)
	var wg sync.WaitGroup
	for round := range 5 {
		for name, frame := range frames {
			for i, addr := range addrs {
				wg.Go(func() {
					if err := sendFrame(addr, frame); err != nil {
						t.Errorf("round %d, %s to n%d: %v", round, name, i+1, err)
					}
				})
			}
		}
		wg.Wait()
	}
	maxHeap := peak()

	after := nodes[0].Status()
	if after.State != "Leader" || after.Term != before.Term || !after.Holder {
		t.Errorf("after the attack n1 is %s in term %d (holder %v); before: Leader in term %d",
			after.State, after.Term, after.Holder, before.Term)
	}
	for i, n := range nodes[1:] {
		if st := n.Status(); st.State != "Follower" || st.Term != before.Term || st.Holder || st.LeaderID != "n1" {
			t.Errorf("after the attack n%d is %s in term %d, leader %q, holder %v; want a follower of n1 in term %d",
				i+2, st.State, st.Term, st.LeaderID, st.Holder, before.Term)
		}
	}
	if diff := cmp.Diff(wantState, nodes[0].fsm.State(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("the state changed under attack (-before +after):\n%s", diff)
	}
	// The cluster still commits: the transport still serves the real peers.
	if err := nodes[0].Apply(ctx, fsm.AddVIP(vip("192.0.2.102/24"))); err != nil {
		t.Fatalf("apply after the attack: %v", err)
	}
	waitFor(t, "every node to see the VIP added after the attack", func() bool {
		for _, n := range nodes {
			if len(n.Status().VIPs) != 2 {
				return false
			}
		}
		return true
	})
	// A frame claiming 2^31 elements must not make anyone allocate for them:
	// 64 MiB is far above what the attack's few MiB of real bytes need.
	const heapBound = 64 << 20
	t.Logf("heap in use: %d KiB before the attack, at most %d KiB during it", base.HeapInuse>>10, maxHeap>>10)
	if maxHeap > base.HeapInuse+heapBound {
		t.Errorf("heap grew from %d MiB to %d MiB under attack", base.HeapInuse>>20, maxHeap>>20)
	}
}

// watchHeap samples the heap in use until the returned function is called,
// which returns the largest sample.
func watchHeap(t *testing.T) func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}
