package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/testutil"
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

// startTCP opens node id on a real TCP transport (behind the member guard,
// as Open builds it) on 127.0.0.1 and runs it until the test ends; it returns
// the node and its Raft address.
func (c *testCluster) startTCP(id string) (*Node, string) {
	c.t.Helper()
	addr := freePort(c.t)
	// The slow profile: the attacks run in this process, and a stall they
	// cause must not pass for a step-down they caused.
	timing, err := Profile("wan")
	if err != nil {
		c.t.Fatal(err)
	}
	n, err := Open(Config{ID: id, RaftBind: addr, APIAddr: "api-" + id, Timing: timing,
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
func hostileFrames(rng *rand.Rand, term uint64) map[string][]byte {
	random := make([]byte, 64<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	// An AppendEntries header from a "leader" of term, cut off before its
	// entries: the node must wait or give up, never act on it. The tests pass
	// a term far above the cluster's, so that acting on it shows.
	appendHead := slices.Concat([]byte{rpcAppendEntries, 0x82},
		fixstr("Term"), []byte{msgpackUint64}, binary.BigEndian.AppendUint64(nil, term),
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

// tcpCluster is three nodes on TCP transports with n1 leading and one VIP
// added, and the heap as it was once they settled.
type tcpCluster struct {
	t     *testing.T
	logs  *syncBuffer
	nodes []*Node
	addrs []string
	// attackTerm is the term the attacks' frames claim, 100 above the
	// cluster's once settled: no honest election gets there during a test.
	attackTerm uint64
	// wantState is the replicated state the attacks must not change, and
	// baseHeap the heap in use, once settled.
	wantState keptState
	baseHeap  uint64
}

// keptState is the part of the replicated state that only a committed command
// changes: an honest election after a stall of the machine changes the
// owner, its history and the handover, which are left out.
type keptState struct {
	VIPs    []fsm.VIP
	Members []string
	Seeded  bool
}

func keep(s fsm.State) keptState {
	return keptState{VIPs: s.VIPs, Members: slices.Sorted(maps.Keys(s.Members)), Seeded: s.Seeded}
}

func newTCPCluster(t *testing.T) *tcpCluster {
	c := newTestCluster(t)
	tc := &tcpCluster{t: t, logs: c.logs}
	for i := 1; i <= 3; i++ {
		n, addr := c.startTCP(fmt.Sprintf("n%d", i))
		tc.nodes, tc.addrs = append(tc.nodes, n), append(tc.addrs, addr)
	}
	n1 := tc.nodes[0]
	if err := n1.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to hold the VIPs", func() bool { return n1.Status().Holder })
	ctx := context.Background()
	for i := 1; i < 3; i++ {
		if err := n1.Join(ctx, fmt.Sprintf("n%d", i+1), tc.addrs[i], fmt.Sprintf("api-n%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	tc.commit(fsm.AddVIP(vip("192.0.2.101/24")), 1)
	tc.attackTerm, tc.wantState = n1.Status().Term+100, keep(n1.fsm.State())
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	tc.baseHeap = ms.HeapInuse
	return tc
}

// commit applies cmd on the leader and waits until every node has three
// members and wantVIPs VIPs: proof that the transports still serve the real
// peers.
func (tc *tcpCluster) commit(cmd fsm.Command, wantVIPs int) {
	tc.t.Helper()
	if err := tc.leader().Apply(context.Background(), cmd); err != nil {
		tc.t.Fatalf("apply %s: %v", cmd.Type, err)
	}
	testutil.Eventually(tc.t, testutil.WaitLimit, fmt.Sprintf("every node to see three members and %d VIPs", wantVIPs), func() bool {
		for _, n := range tc.nodes {
			if st := n.Status(); len(st.Members) != 3 || len(st.VIPs) != wantVIPs {
				return false
			}
		}
		return true
	})
}

// leader waits until one node leads and holds the VIPs and the others
// follow it, and returns it.
func (tc *tcpCluster) leader() *Node {
	tc.t.Helper()
	var leader *Node
	testutil.Eventually(tc.t, testutil.WaitLimit, "a leader that holds, followed by the others", func() bool {
		leader = nil
		var sts []Status
		for _, n := range tc.nodes {
			st := n.Status()
			if st.State == RoleLeader && st.Holder {
				leader = n
			}
			sts = append(sts, st)
		}
		for _, st := range sts {
			if leader != nil && st.ID != leader.cfg.ID && (st.State != RoleFollower || st.Holder || st.LeaderID != leader.cfg.ID) {
				return false
			}
		}
		return leader != nil
	})
	return leader
}

// unharmed fails the test unless no node ever reached the attackers' term,
// the cluster has a leader that holds the VIPs and followers of it, the
// replicated state is as before, the cluster still commits, and the heap
// peaked at most 64 MiB above where it was: far more than the attacks' real
// bytes need, far less than their lengths claim. It allows what an honest
// election after a stall of this shared machine does: another leader in a
// term or a few above the old one.
func (tc *tcpCluster) unharmed(peakHeap uint64) {
	t := tc.t
	t.Helper()
	// Terms never go down: a term below attackTerm now was below it throughout.
	for _, n := range tc.nodes {
		if st := n.Status(); st.Term >= tc.attackTerm {
			t.Errorf("after the attack %s is in term %d, at or past the attackers' %d: it acted on their frames",
				st.ID, st.Term, tc.attackTerm)
		}
	}
	leader := tc.leader()
	if diff := cmp.Diff(tc.wantState, keep(leader.fsm.State()), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("the state changed under attack (-before +after):\n%s", diff)
	}
	tc.commit(fsm.AddVIP(vip("192.0.2.102/24")), 2)
	const heapBound = 64 << 20
	t.Logf("heap in use: %d KiB before the attack, at most %d KiB during it", tc.baseHeap>>10, peakHeap>>10)
	if peakHeap > tc.baseHeap+heapBound {
		t.Errorf("heap grew from %d MiB to %d MiB under attack", tc.baseHeap>>20, peakHeap>>20)
	}
}

// TestHostileRaftPeer: a host that reaches the Raft port of every node of a
// three-node cluster on TCP sends random bytes, truncated frames and frames
// claiming 2^31-element arrays, many times over. It sends from 127.0.0.1, a
// member's address, so the member guard lets it through: this is raft's own
// transport against malformed frames, some of which claim a term far above
// the cluster's. No node takes that term, one leader holds, the replicated
// state is unchanged, the cluster still commits, and the heap stays within
// bounds.
func TestHostileRaftPeer(t *testing.T) {
	tc := newTCPCluster(t)
	peak := watchHeap()
	frames := hostileFrames(rand.New(rand.NewPCG(1, 2)), tc.attackTerm)
	var wg sync.WaitGroup
	for round := range 5 {
		for name, frame := range frames {
			for i, addr := range tc.addrs {
				wg.Go(func() {
					if err := sendFrame(addr, frame); err != nil {
						t.Errorf("round %d, %s to n%d: %v", round, name, i+1, err)
					}
				})
			}
		}
		wg.Wait()
	}
	tc.unharmed(peak())
}

// TestMemberGuard: a host that is not a member (127.0.0.2; the nodes are on
// 127.0.0.1) is hung up on before it can feed the decoder. It tries the two
// attacks the guard exists for, on every node: a well-formed AppendEntries of
// a higher term (33 bytes), and a frame claiming 2^31 entries followed by
// 16 MiB of one-byte entries. With the guard removed this test fails: the
// first makes every node take the forged term (the leader steps down,
// dropping its VIPs); the second takes the heap past unharmed's 64 MiB bound.
func TestMemberGuard(t *testing.T) {
	tc := newTCPCluster(t)
	peak := watchHeap()
	higherTerm := slices.Concat([]byte{rpcAppendEntries, 0x82}, fixstr("ProtocolVersion"), []byte{3},
		fixstr("Term"), []byte{msgpackUint64}, binary.BigEndian.AppendUint64(nil, tc.attackTerm))
	entries := slices.Concat([]byte{rpcAppendEntries, msgpackFixmap1}, fixstr("Entries"), []byte{msgpackArray32},
		be32(hostileMaxLen32), bytes.Repeat([]byte{msgpackEmptyFixmap}, 16<<20))
	stranger := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: hostileFrameTimeout}
	var wg sync.WaitGroup
	for i, addr := range tc.addrs {
		wg.Go(func() {
			for name, frame := range map[string][]byte{"a higher term": higherTerm, "16 MiB of entries": entries} {
				if err := hungUp(stranger, addr, frame); err != nil {
					t.Errorf("n%d, %s from a host that is not a member: %v", i+1, name, err)
				}
			}
		})
	}
	wg.Wait()
	tc.unharmed(peak())
	// Two refusals per node, one warning: the second falls in the same minute.
	if n := strings.Count(tc.logs.String(), "refused a Raft connection"); n != len(tc.nodes) {
		t.Errorf("%d warnings of a refused connection, want one per node (%d)", n, len(tc.nodes))
	}
}

// hungUp sends frame to addr with d, and returns an error unless the other
// side closes or resets the connection without an answer. A write or read
// that merely times out is not a hang-up: the node may still be reading.
func hungUp(d *net.Dialer, addr string, frame []byte) error {
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(hostileFrameTimeout))
	_, werr := conn.Write(frame)
	n, rerr := conn.Read(make([]byte, 64))
	switch {
	case n > 0:
		return fmt.Errorf("answered %d bytes", n)
	case closedOnUs(werr) || closedOnUs(rerr):
		return nil
	}
	return fmt.Errorf("not hung up on: write: %v; read: %v", werr, rerr)
}

// closedOnUs reports whether err is the other side closing or resetting.
func closedOnUs(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// watchHeap samples the heap in use until the returned function is called,
// which returns the largest sample.
func watchHeap() func() uint64 {
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
