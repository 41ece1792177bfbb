package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/probe"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// picture is what an operator and a client see of the cluster: who holds the
// VIP, who leads in which term, the VIP set, and `vip ls`.
type picture struct {
	holder int
	leader string
	term   uint64
	vips   []string
	vipLs  string
}

func (p picture) String() string {
	return fmt.Sprintf("holder n%d, leader %s in term %d, VIPs %v", p.holder, p.leader, p.term, p.vips)
}

// picture reports the cluster as every node sees it, or an error while the
// nodes disagree or a node does not answer.
func (e *env) picture() (picture, error) {
	var p picture
	hs, err := e.lab.HoldersOf(vip)
	if err != nil {
		return p, err
	}
	if len(hs) != 1 {
		return p, fmt.Errorf("%s is held by %s", vip, names(hs))
	}
	p.holder = hs[0]
	for i := 1; i <= 3; i++ {
		st, err := e.status(i)
		if err != nil {
			return p, err
		}
		vips, err := e.vipSet(i)
		if err != nil {
			return p, err
		}
		if i == 1 {
			p.leader, p.term, p.vips = st.LeaderID, st.Term, vips
		} else if st.LeaderID != p.leader || st.Term != p.term || !slices.Equal(vips, p.vips) {
			return p, fmt.Errorf("n%d sees leader %q in term %d with VIPs %v; n1 sees %s", i, st.LeaderID, st.Term, vips, p)
		}
	}
	out, err := e.c.CLI(e.ctx, p.holder, "vip", "ls")
	p.vipLs = out
	return p, err
}

// settledPicture waits until every node agrees and returns what they see.
func (e *env) settledPicture() picture {
	e.t.Helper()
	var p picture
	e.await("every node to agree on the cluster", settle, func() error {
		var err error
		p, err = e.picture()
		return err
	})
	return p
}

// unchanged checks, after an attack, that every agent still runs and the
// cluster is as before: same holder, leader, term, VIP set and `vip ls`,
// and that the client's probe was answered by the holder alone throughout.
func (e *env) unchanged(before picture, p *probe.Probe) {
	e.t.Helper()
	for i := 1; i <= 3; i++ {
		if !e.c.Proc(i).Running() {
			e.t.Errorf("n%d's agent is gone: %s", i, e.lastLine(i))
		}
	}
	after := e.settledPicture()
	if after.String() != before.String() || after.vipLs != before.vipLs {
		e.t.Errorf("the cluster changed under attack:\nbefore: %s\n%s\nafter:  %s\n%s", before, before.vipLs, after, after.vipLs)
	}
	e.steady(p, vip, before.holder)
	rep := p.Stop()
	e.t.Logf("client during the attack: %d answers, %d failed dials, longest outage %v, answered by %v",
		rep.OK, rep.Failed, rep.Outage, rep.Answerers)
	if want := []string{lab.NodeName(before.holder)}; !slices.Equal(rep.Answerers, want) {
		e.t.Errorf("the client was answered by %v, want %v alone", rep.Answerers, want)
	}
	e.noDualHolder(rep)
}

// underAttack builds a three-node cluster with an intruder on its LAN, and
// returns it with what it looks like and a probe of its VIP from the client.
func underAttack(t *testing.T) (*env, picture, *probe.Probe) {
	t.Helper()
	return underAttackWith(t, rig.New)
}

// underAttackWith is underAttack on a cluster made by newRig.
func underAttackWith(t *testing.T, newRig func(*lab.Lab, string, ...string) (*rig.Cluster, error)) (*env, picture, *probe.Probe) {
	t.Helper()
	e := newEnvRig(t, lab.Options{Intruder: true}, newRig)
	h := e.startCluster()
	p := e.probe(vip, h)
	before := e.settledPicture()
	t.Logf("before the attack: %s", before)
	return e, before, p
}

// raftGarbage is what the intruder sends to Raft ports: random bytes, and
// frames of hashicorp/raft's NetworkTransport (an RPC type byte, then a
// msgpack body) cut short or claiming 2^31 elements that never come.
func raftGarbage() [][]byte {
	rng := rand.New(rand.NewPCG(6, 7))
	var out [][]byte
	for _, n := range []int{1, 7, 512, 64 << 10} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		out = append(out, b)
	}
	huge := binary.BigEndian.AppendUint32(nil, 1<<31-1)
	// {"Term": 1, "Entries": [ ...2^31 entries...
	appendHead := append([]byte{0, 0x82, 0xa4, 'T', 'e', 'r', 'm', 1, 0xa7, 'E', 'n', 't', 'r', 'i', 'e', 's', 0xdd}, huge...)
	for cut := 1; cut < len(appendHead); cut += 3 {
		out = append(out, appendHead[:cut])
	}
	return append(out,
		appendHead,
		append([]byte{1, 0xdf}, huge...), // RequestVote with a 2^31-pair map
		append([]byte{2, 0x81, 0xa5, 'P', 'e', 'e', 'r', 's', 0xc6}, huge...), // InstallSnapshot, 2^31-byte field
		[]byte{0x63, 0x80}, // no such RPC
		// A well-formed AppendEntries from a "leader" of term 9999: raft
		// would step down for it. Only TLS and the member guard keep it out.
		slices.Concat([]byte{0, 0x82, 0xaf}, []byte("ProtocolVersion"), []byte{3, 0xa4}, []byte("Term"), []byte{0xcd, 0x27, 0x0f}),
	)
}

// TestHostileRaftTraffic: random bytes, truncated frames and frames with
// absurd lengths go to every node's Raft port, over and over. No agent dies,
// nobody takes over, the term and the VIP set stay, and the client is served
// by the holder throughout. With TLS they come from another member's host,
// which the member guard lets through, so TLS itself must refuse them; in
// plaintext they come from the intruder, which is no member, and the member
// guard hangs up on it before raft reads them.
func TestHostileRaftTraffic(t *testing.T) {
	t.Run("tls", func(t *testing.T) {
		hostileRaftTraffic(t, rig.New, false, func(e *env, to netip.AddrPort) string { return e.dialNS(to.String()) })
	})
	t.Run("plaintext", func(t *testing.T) {
		hostileRaftTraffic(t, rig.NewPlaintext, true, func(e *env, _ netip.AddrPort) string { return e.lab.IntruderNS() })
	})
}

// guardRefusal is what an agent logs when the member guard hangs up.
const guardRefusal = "refused a Raft connection from a host that is not a member"

// hostileRaftTraffic attacks a cluster made by newRig, sending to each Raft
// port from the namespace from names; guarded says whether the member guard
// must be what refused the frames.
func hostileRaftTraffic(t *testing.T, newRig func(*lab.Lab, string, ...string) (*rig.Cluster, error), guarded bool,
	from func(e *env, to netip.AddrPort) string) {
	e, before, p := underAttackWith(t, newRig)
	// Only what the nodes log from here on is judged: while members join at
	// the same time, one may dial another (warm spare connections) before
	// the latter has heard of it, and the guard rightly hangs up on that.
	logFrom := make([]int64, 4)
	for i := 1; i <= 3; i++ {
		fi, err := os.Stat(e.lab.LogPath(i))
		if err != nil {
			t.Fatal(err)
		}
		logFrom[i] = fi.Size()
	}
	frames := raftGarbage()
	var wg sync.WaitGroup
	for round := range 3 {
		for i := 1; i <= 3; i++ {
			to := netip.AddrPortFrom(e.lab.NodeIP(i), rig.RaftPort)
			for _, f := range frames {
				wg.Go(func() {
					if err := e.sendGarbage(from(e, to), to, f); err != nil {
						t.Errorf("round %d to n%d: %v", round, i, err)
					}
				})
			}
		}
		wg.Wait()
	}
	t.Logf("sent %d frames to each node's Raft port, 3 times", len(frames))
	e.unchanged(before, p)
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(e.lab.LogPath(i))
		if err != nil {
			t.Fatal(err)
		}
		b = b[min(logFrom[i], int64(len(b))):]
		if got := bytes.Contains(b, []byte(guardRefusal)); got != guarded {
			t.Errorf("n%d logged %q during the attack: %v, want %v", i, guardRefusal, got, guarded)
		}
	}
}

// sendGarbage writes b to addr from namespace ns, then waits a moment for
// the node to answer or close, so that the frame is read, not just queued.
func (e *env) sendGarbage(ns string, addr netip.AddrPort, b []byte) error {
	conn, err := e.dialFrom(ns, addr.String())
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write(b); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		return err
	}
	_, _ = conn.Read(make([]byte, 1))
	return nil
}

// TestHostileAPI: the intruder sends the API what no client would: bodies over
// the limit, broken and unknown JSON (with and without the token), a header
// larger than allowed, a header sent a byte at a time, and hundreds of idle
// connections. Every answer is a 4xx or a closed connection, no agent dies,
// the cluster is unchanged, and operators' requests still succeed, even while
// the idle connections are open.
func TestHostileAPI(t *testing.T) {
	e, before, p := underAttack(t)
	hc, err := e.c.HTTPClientFrom(e.lab.IntruderNS())
	if err != nil {
		t.Fatal(err)
	}
	big := `{"prefix":"192.0.2.150/24","label":"` + strings.Repeat("x", 1<<20) + `"}`
	for i := 1; i <= 3; i++ {
		for _, rq := range []struct{ name, method, path, token, body string }{
			{"body over the limit", "POST", "/v1/vips", rig.Token, big},
			{"body over the limit, no token", "POST", "/v1/vips", "", big},
			{"invalid JSON", "POST", "/v1/vips", rig.Token, `{"prefix":"192.0.2.150/24"`},
			{"unknown field", "POST", "/v1/vips", rig.Token, `{"prefix":"192.0.2.150/24","owner":"intruder"}`},
			{"two objects", "POST", "/v1/join", rig.Token, `{"id":"n9","raft_addr":"192.0.2.66:7000","api_addr":"192.0.2.66:8080"}{}`},
			{"wrong token", "POST", "/v1/transfer", "guess", `{}`},
			{"bad address", "DELETE", "/v1/vips/not-an-ip", rig.Token, ""},
			{"not JSON at all", "POST", "/v1/leave", rig.Token, "\x00\xff\xfe garbage"},
		} {
			code, err := e.rawRequest(hc, i, rq.method, rq.path, rq.token, rq.body)
			if len(rq.body) > 1<<20 && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
				// A node that refuses before reading the whole body (401, 413)
				// closes on the rest of it: the sender sees a reset.
				continue
			}
			if err != nil {
				t.Errorf("n%d, %s: %v", i, rq.name, err)
			} else if code < 400 || code >= 500 {
				t.Errorf("n%d, %s: HTTP %d, want a 4xx", i, rq.name, code)
			}
		}
		if got := e.hugeHeader(i); !strings.HasPrefix(got, "HTTP/1.1 431") && got != "closed" {
			t.Errorf("n%d, a 1 MiB header: %q, want 431 or a closed connection", i, got)
		}
	}
	e.slowHeader(1)
	e.idleConnections(500)
	e.unchanged(before, p)
}

// rawRequest sends one request with hc and returns the status code.
func (e *env) rawRequest(hc *http.Client, i int, method, path, token, body string) (int, error) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.c.BaseURL(i)+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// hugeHeader sends node i a request with a 1 MiB header from the intruder and
// returns the status line of the answer, or "closed" if the node hung up.
func (e *env) hugeHeader(i int) string {
	e.t.Helper()
	conn, err := e.c.DialAPI(e.ctx, e.lab.IntruderNS(), i)
	if err != nil {
		e.t.Fatalf("dial n%d's API: %v", i, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		// The node may answer and close before reading it all: not an error.
		_, _ = fmt.Fprintf(conn, "GET /v1/status HTTP/1.1\r\nHost: n\r\nX-Big: %s\r\n\r\n", strings.Repeat("a", 1<<20))
	}()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return "closed"
	}
	return strings.TrimSpace(line)
}

// slowHeader drips a request header to node i one byte at a time, slower than
// any client would, and fails the test unless the node hangs up before the
// drip would have ended (its ReadHeaderTimeout).
func (e *env) slowHeader(i int) {
	e.t.Helper()
	conn, err := e.c.DialAPI(e.ctx, e.lab.IntruderNS(), i)
	if err != nil {
		e.t.Fatalf("dial n%d's API: %v", i, err)
	}
	defer conn.Close()
	closed := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn)
		closed <- err
	}()
	start := time.Now()
	drip := []byte("GET /v1/status HTTP/1.1\r\nHost: n\r\nX-Slow: " + strings.Repeat("z", 100))
	for _, b := range drip {
		select {
		case <-closed:
			e.t.Logf("n%d hung up on a header sent a byte every 300 ms after %v", i, since(start))
			return
		case <-time.After(300 * time.Millisecond):
		}
		if _, err := conn.Write([]byte{b}); err != nil {
			e.t.Logf("n%d hung up on a header sent a byte every 300 ms after %v (%v)", i, since(start), err)
			return
		}
	}
	e.t.Errorf("n%d still reading a header sent a byte every 300 ms after %v", i, since(start))
}

// idleConnections opens n connections from the intruder to every node's API,
// half of them idle and half with a partial request (over TLS when the API
// speaks it, or the server would hang up at once), and checks that
// operators' requests from the client still succeed while they are open.
func (e *env) idleConnections(n int) {
	e.t.Helper()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var idle, partial int
	for k := range n {
		i := 1 + k%3
		var c net.Conn
		var err error
		if k%2 == 0 {
			c, err = e.partialRequest(i)
		} else {
			c, err = e.dialFrom(e.lab.IntruderNS(), e.c.APIAddr(i))
		}
		if err != nil {
			e.t.Logf("connection %d to n%d: %v", k, i, err)
			continue
		}
		if k%2 == 0 {
			partial++
		} else {
			idle++
		}
		conns = append(conns, c)
	}
	e.t.Logf("%d connections open from the intruder, %d of them with a partial request", len(conns), partial)
	if idle == 0 || partial == 0 {
		e.t.Fatalf("%d idle connections and %d with a partial request opened: the check below would prove nothing", idle, partial)
	}
	for i := 1; i <= 3; i++ {
		if _, err := e.c.CLI(e.ctx, i, "status"); err != nil {
			e.t.Errorf("raftvip status on n%d with %d hostile connections open: %v", i, len(conns), err)
		}
	}
}

// partialRequest opens a connection from the intruder to node i's API and
// sends the start of a request that never ends.
func (e *env) partialRequest(i int) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(e.ctx, apiTimeout)
	defer cancel()
	c, err := e.c.DialAPI(ctx, e.lab.IntruderNS(), i)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte("POST /v1/vips HTTP/1.1\r\nHost: n\r\n")); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// TestDamagedDataDir: a follower stopped, its raft.db truncated to 100 bytes,
// and started again refuses to start with an error that names the file as
// damaged, leaves the file as it was, and the other two keep the VIP.
func TestDamagedDataDir(t *testing.T) {
	e := newEnv(t)
	h := e.startCluster()
	before := e.settledPicture()
	f := 1 + h%3
	e.signal(f, syscall.SIGTERM)
	if code := e.exited(e.c.Proc(f)); code != 0 {
		t.Fatalf("n%d exited with %d after SIGTERM: %s", f, code, e.lastLine(f))
	}
	db := filepath.Join(e.c.DataDir(f), "raft.db")
	if err := os.Truncate(db, 100); err != nil {
		t.Fatal(err)
	}
	damaged, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	e.refused(f, "damaged", e.c.Args(f)...)
	if line := e.lastLine(f); !strings.Contains(line, db) {
		t.Errorf("n%d's error does not name %s: %q", f, db, line)
	}
	if got, err := os.ReadFile(db); err != nil || !bytes.Equal(got, damaged) {
		t.Errorf("the refused start changed %s: %d bytes now, %d before (%v)", db, len(got), len(damaged), err)
	}
	e.await(fmt.Sprintf("n%d keeps the VIP, followed by the other live node", h), settle, func() error {
		if err := e.holds(h, vip); err != nil {
			return err
		}
		for i := 1; i <= 3; i++ {
			if i != h && i != f {
				return e.follows(i, h, vip)
			}
		}
		return nil
	})
	st, err := e.status(h)
	if err != nil || st.Term != before.term {
		t.Errorf("n%d's term after the refused start: %d (%v), was %d", h, st.Term, err, before.term)
	}
}
