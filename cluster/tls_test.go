package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/internal/pki/pkitest"
	"github.com/raftvip/raftvip/internal/testutil"
)

// tlsRPCTimeout is the transports' I/O timeout in these tests: an RPC whose
// dial, handshake or answer takes longer fails.
const tlsRPCTimeout = time.Second

// tlsTransport is a raft transport over TLS on a free loopback port, with
// handshake deadline timeout, that answers every RequestVote with Granted,
// until the test ends.
func tlsTransport(t *testing.T, conf *tls.Config, timeout time.Duration) *raft.NetworkTransport {
	t.Helper()
	log, _ := testLogger(t)
	tcp, err := newTCPStream("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newTLSStream(tcp, conf, log)
	if err != nil {
		t.Fatal(err)
	}
	s.timeout = timeout
	return answering(t, s)
}

// answering is a raft transport on s that answers every RequestVote with
// Granted, until the test ends.
func answering(t *testing.T, s raft.StreamLayer) *raft.NetworkTransport {
	t.Helper()
	tr := raft.NewNetworkTransport(s, 2, tlsRPCTimeout, io.Discard)
	// raft never closes Consumer: the answering goroutine ends on stop.
	stop := make(chan struct{})
	var answering sync.WaitGroup
	answering.Go(func() {
		for {
			select {
			case rpc := <-tr.Consumer():
				rpc.Respond(&raft.RequestVoteResponse{Term: 1, Granted: true}, nil)
			case <-stop:
				return
			}
		}
	})
	t.Cleanup(func() {
		tr.Close()
		close(stop)
		answering.Wait()
	})
	return tr
}

// vote sends one RequestVote from `from` to `to`.
func vote(from, to *raft.NetworkTransport) error {
	var resp raft.RequestVoteResponse
	err := from.RequestVote("n2", to.LocalAddr(), &raft.RequestVoteRequest{Term: 1}, &resp)
	if err == nil && !resp.Granted {
		err = errors.New("vote not granted")
	}
	return err
}

// closedByPeer reads from c until the peer closes it or the test's deadline
// passes; only the former is a refusal.
func closedByPeer(t *testing.T, c net.Conn) error {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the connection stayed open: not refused")
	}
	return err
}

func TestTLSStream(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	// n1's handshake deadline is well above the RPC timeout: if a silent
	// client's handshake held n1's accept loop, n2's vote below would time
	// out before the silent client is given up on.
	n1 := tlsTransport(t, pkitest.Config(t, ca, "n1"), 5*tlsRPCTimeout)
	n2 := tlsTransport(t, pkitest.Config(t, ca, "n2"), handshakeTimeout)
	addr := string(n1.LocalAddr())

	// A client that connects and says nothing must not hold the accept loop,
	// and is hung up on at the handshake deadline (closedByPeer waits 10 s).
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if err := vote(n2, n1); err != nil {
		t.Fatalf("RPC between two members: %v", err)
	}
	closedByPeer(t, silent)

	// Plain TCP speaking raft's framing (a RequestVote type byte and junk).
	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Write(append([]byte{1}, strings.Repeat("garbage", 100)...)); err != nil {
		t.Fatal(err)
	}
	closedByPeer(t, plain)

	// A client with a certificate of another CA, that trusts any server.
	foreign := pkitest.Config(t, pkitest.CA(t), "n3")
	foreign.VerifyConnection = nil
	foreign.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &foreign.Certificates[0], nil
	}
	fc, err := tls.Dial("tcp", addr, foreign)
	if err != nil {
		t.Fatal(err) // TLS 1.3: the client finishes before the server judges it
	}
	defer fc.Close()
	if err := closedByPeer(t, fc); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("foreign client: %v, want the server's unknown CA alert", err)
	}
	// A transport of another cluster: refused, and it refuses n1 in turn.
	other := tlsTransport(t, pkitest.Config(t, pkitest.CA(t), "n4"), handshakeTimeout)
	if err := vote(other, n1); err == nil {
		t.Error("a transport of another cluster got a vote")
	}
	if err := vote(n1, other); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("n1 voted by another cluster: %v, want unknown authority", err)
	}
	// n1 still serves its own cluster.
	if err := vote(n2, n1); err != nil {
		t.Fatalf("RPC after the refusals: %v", err)
	}
}

func TestCheckClusterID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		stored   string // "" = none
		want     string
		hasState bool
		err      string
		record   bool
	}{
		{"new TLS node", "", "a", false, "", true},
		{"same cluster", "a", "a", true, "", false},
		{"another cluster", "a", "b", true, "cluster a, but the certificates are of cluster b", false},
		{"plaintext on a TLS cluster's dir", "a", "", true, "TLS cluster a, but this node runs without TLS", false},
		{"plaintext cluster moving to TLS", "", "a", true, "", true},
		{"a failed join's dir reused", "a", "b", false, "", true},
		{"plaintext reuses a failed TLS join's dir", "a", "", false, "", true},
		{"plaintext", "", "", true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := raft.NewInmemStore()
			if tt.stored != "" {
				if err := st.Set([]byte(clusterIDKey), []byte(tt.stored)); err != nil {
					t.Fatal(err)
				}
			}
			record, err := checkClusterID(st, tt.want, tt.hasState, "/data")
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("check = %v, want %q", err, tt.err)
			}
			if err != nil && !errors.Is(err, ErrOtherCluster) {
				t.Errorf("%v does not wrap ErrOtherCluster", err)
			}
			if record != tt.record {
				t.Errorf("record = %v, want %v", record, tt.record)
			}
			if got, _ := st.Get([]byte(clusterIDKey)); string(got) != tt.stored {
				t.Errorf("the check changed the recorded ID from %q to %q", tt.stored, got)
			}
		})
	}
}

// TestFailedTLSStartKeepsDataDir: a plaintext node's data dir, started with
// TLS on a busy Raft port, fails to open and is not tied to the TLS cluster:
// it still opens in plaintext afterwards.
func TestFailedTLSStartKeepsDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	runDisk(t, dir, false)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := diskConfig(t, dir)
	cfg.Transport, cfg.RaftBind = nil, busy.Addr().String()
	cfg.TLS, cfg.ClusterID = pkitest.Config(t, pkitest.CA(t), "n1"), "aaaa"
	if n, err := Open(cfg); err == nil {
		n.Shutdown(context.Background())
		t.Fatal("opened on a busy port")
	}
	n, err := Open(diskConfig(t, dir))
	if err != nil {
		t.Fatalf("reopen in plaintext after the failed TLS start: %v", err)
	}
	n.Shutdown(context.Background())
}

func TestReopenWithAnotherClusterRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := diskConfig(t, dir)
	cfg.ClusterID = "aaaa"
	n, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, testutil.WaitLimit, "a leader", func() bool { return n.raft.State() == raft.Leader })
	if err := n.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bbbb", ""} {
		cfg := diskConfig(t, dir)
		cfg.ClusterID = id
		if n, err := Open(cfg); !errors.Is(err, ErrOtherCluster) {
			if n != nil {
				n.Shutdown(context.Background())
			}
			t.Fatalf("reopen as cluster %q = %v, want ErrOtherCluster", id, err)
		}
	}
	cfg = diskConfig(t, dir)
	cfg.ClusterID = "aaaa"
	n, err = Open(cfg)
	if err != nil {
		t.Fatalf("reopen as the same cluster: %v", err)
	}
	n.Shutdown(context.Background())
}
