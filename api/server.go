// Package api is raftvip's HTTP API: the server every node runs and the Go
// client the CLI uses. Reads are answered from the local node's view and need no
// token; writes need the cluster token and are forwarded to the leader by
// followers. Paths are a documented interface (README.md): keep them stable.
package api

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// Cluster is what the server needs from the node; cluster.Node implements it.
// Every method but Status needs the leader and otherwise returns an error
// matching cluster.ErrNotLeader.
type Cluster interface {
	Status() cluster.Status
	Apply(ctx context.Context, c fsm.Command) error
	// AddVIP applies fsm.AddVIP(v), refusing with cluster.ErrVIPExists to
	// change the prefix length or interface of a VIP unless o.Replace, and
	// with cluster.ErrLinkMissing an interface members lack unless o.Force.
	AddVIP(ctx context.Context, v fsm.VIP, o cluster.AddVIPOptions) (cluster.AddVIPResult, error)
	// Join adds a voter; it is idempotent.
	Join(ctx context.Context, id, raftAddr, apiAddr string) error
	// Leave removes a member, or returns cluster.ErrUnknownMember.
	Leave(ctx context.Context, id string) error
	// Transfer hands leadership to id, or to any up-to-date follower if id
	// is "", and says what it did.
	Transfer(ctx context.Context, id string) (cluster.TransferResult, error)
}

// ServerConfig is what NewServer needs.
type ServerConfig struct {
	// Cluster is the local node.
	Cluster Cluster
	// Token is the cluster token writes must present as a Bearer token.
	Token []byte
	// Logger receives one line per 5xx answer; nil discards.
	Logger *slog.Logger
	// Client forwards writes to the leader; nil means a client with a timeout,
	// over TLS with the TLS config when that is set.
	Client *http.Client
	// Metrics serves GET /metrics; nil leaves the endpoint out.
	Metrics http.Handler
	// TLS, when set, means members' API addresses are HTTPS, and is the
	// client configuration (this node's certificate) for forwarding to them.
	TLS *tls.Config
	// Conflicts, when set, are the VIPs this node cannot bind for an
	// address in the way, shown in GET /v1/status. It must be cheap: every
	// status read calls it.
	Conflicts func() []cluster.AddressConflict
	// LeaderWait is how long a follower holds a write while it knows no
	// leader to forward it to (an election, or a new leader whose API
	// address has not reached this node yet); 0 means DefaultLeaderWait.
	LeaderWait time.Duration
}

// DefaultLeaderWait covers an election and the new leader's member record
// reaching the followers, with room for a loaded host: a write sent during
// a failover is forwarded once there is a leader, rather than refused.
const DefaultLeaderWait = 2 * time.Second

// Server answers the HTTP API for one node.
type Server struct {
	cluster   Cluster
	tokenHash [sha256.Size]byte
	log       *slog.Logger
	client    *http.Client
	scheme    string // of members' API addresses
	mux       *http.ServeMux
	metrics   http.Handler
	conflicts func() []cluster.AddressConflict
	// leaderWait: ServerConfig.LeaderWait.
	leaderWait time.Duration
	stopped    atomic.Bool
}

// Limits of the HTTP server and of the work a request may cause.
const (
	maxBody = 64 << 10
	// writeBudget bounds one write, forwarding included, so that the server
	// answers 504 itself before NewHTTPServer's 30 s WriteTimeout cuts the
	// connection without any answer.
	writeBudget = 25 * time.Second
)

// NewServer returns a server for cfg. It starts nothing.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Cluster == nil {
		return nil, errors.New("api: no cluster")
	}
	if len(cfg.Token) == 0 {
		// An empty token would make every write look authorised.
		return nil, errors.New("api: empty token")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hc := cfg.Client
	if hc == nil {
		hc = HTTPClient(cfg.TLS, writeBudget)
	}
	s := &Server{
		cluster:   cfg.Cluster,
		tokenHash: sha256.Sum256(cfg.Token),
		log:       log.With("component", "api"),
		client:    hc,
		metrics:   cfg.Metrics,
		conflicts: cfg.Conflicts,
		scheme:    "http",
	}
	s.leaderWait = cmp.Or(cfg.LeaderWait, DefaultLeaderWait)
	if cfg.TLS != nil {
		s.scheme = "https"
	}
	s.mux = s.routes()
	return s, nil
}

// Handler returns the server's own mux (never http.DefaultServeMux).
func (s *Server) Handler() http.Handler { return s.mux }

// StopWrites makes every later write answer 503 "shutting down", while reads go
// on. The agent calls it first in its ordered shutdown: a change accepted now
// could not be served by a node about to drop its VIPs.
func (s *Server) StopWrites() { s.stopped.Store(true) }

// MaxConns caps the connections one API (or monitor) listener holds open at a
// time (Listener). A few operators, the peers' forwards and joins need far
// fewer; the cap keeps a flood of connections from the LAN from exhausting
// the daemon's file descriptors and memory. It cannot keep such a flood from
// delaying API answers; Raft has its own port and is not affected.
const MaxConns = 64

// Listener caps ln at MaxConns connections (golang.org/x/net/netutil: at the
// cap Accept waits, so new connections queue in the kernel's backlog instead
// of being accepted and dropped) and, with conf, serves TLS on it. The TLS
// handshake runs in each connection's goroutine, bounded by the server's
// timeouts (NewHTTPServer), so a stalled client holds only its own slot.
func Listener(ln net.Listener, conf *tls.Config) net.Listener {
	ln = netutil.LimitListener(ln, MaxConns)
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	return ln
}

// NewHTTPServer returns an http.Server for h with timeouts, so that slow or idle
// clients cannot hold connections open (the zero http.Server has none).
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		s.fail(w, r, withStatus(http.StatusNotFound, errors.New("metrics are not enabled on this node")))
		return
	}
	s.metrics.ServeHTTP(w, r)
}

type route struct {
	method, path string
	h            http.HandlerFunc
}

// routes builds the mux. Each path also gets a pattern without a method, which
// the mux picks only when no method matches, so that 405 and 404 answers are
// JSON like every other error rather than the mux's plain text.
func (s *Server) routes() *http.ServeMux {
	rs := []route{
		{http.MethodGet, "/healthz", s.healthz},
		{http.MethodGet, "/v1/leader", s.leader},
		{http.MethodGet, "/v1/status", s.status},
		{http.MethodGet, "/v1/members", s.members},
		{http.MethodGet, "/v1/vips", s.vips},
		{http.MethodGet, "/metrics", s.serveMetrics},
		{http.MethodPost, "/v1/join", s.write(s.join)},
		{http.MethodPost, "/v1/leave", s.write(s.leave)},
		{http.MethodPost, "/v1/transfer", s.writeResult(s.transfer)},
		{http.MethodPost, "/v1/health", s.write(s.health)},
		{http.MethodPost, "/v1/vips", s.writeResult(s.addVIP)},
		{http.MethodDelete, "/v1/vips/{addr}", s.write(s.removeVIP)},
		// A CIDR given unescaped ("/v1/vips/192.0.2.101/24") spans two segments.
		{http.MethodDelete, "/v1/vips/{addr}/{bits}", s.write(s.removeVIP)},
	}
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range rs {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.method == http.MethodGet {
			allowed[rt.path] = append(allowed[rt.path], http.MethodHead) // the mux serves HEAD for GET
		}
	}
	for path, methods := range allowed {
		mux.HandleFunc(path, s.methodNotAllowed(methods))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, withStatus(http.StatusNotFound, fmt.Errorf("no such endpoint %s", r.URL.Path)))
	})
	return mux
}

func (s *Server) methodNotAllowed(methods []string) http.HandlerFunc {
	slices.Sort(methods)
	allow := strings.Join(methods, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.fail(w, r, withStatus(http.StatusMethodNotAllowed,
			fmt.Errorf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)))
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// LeaderInfo is the body of GET /v1/leader, on every node.
type LeaderInfo struct {
	// Node is the answering node's ID.
	Node string `json:"node"`
	// Role is its Raft state in lower case: "leader", "follower", "candidate"...
	Role string `json:"role"`
	// Holder is true on the one node that holds the VIPs.
	Holder        bool   `json:"holder"`
	LeaderID      string `json:"leader_id"`
	LeaderAPIAddr string `json:"leader_api_addr"`
	Term          uint64 `json:"term"`
}

// leader answers 200 only on the VIP holder, so that a load balancer health
// check sends traffic to the node that answers for the VIPs. A leader whose
// claim has not committed yet answers 503: it does not hold them yet.
func (s *Server) leader(w http.ResponseWriter, _ *http.Request) {
	st := s.cluster.Status()
	info := LeaderInfo{
		Node:          st.ID,
		Role:          strings.ToLower(string(st.State)),
		Holder:        st.Holder,
		LeaderID:      st.LeaderID,
		LeaderAPIAddr: st.LeaderAPIAddr,
		Term:          st.Term,
	}
	code := http.StatusServiceUnavailable
	if st.Holder {
		code = http.StatusOK
	}
	writeJSON(w, code, info)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if err := s.awaitIndex(r); err != nil {
		s.fail(w, r, err)
		return
	}
	st := s.cluster.Status()
	st.Members = nonNil(st.Members)
	st.VIPs = nonNil(st.VIPs)
	if s.conflicts != nil {
		st.Conflicts = s.conflicts()
	}
	writeJSON(w, http.StatusOK, st)
}

// membersBody is the body of GET /v1/members.
type membersBody struct {
	Members []cluster.Member `json:"members"`
}

func (s *Server) members(w http.ResponseWriter, r *http.Request) {
	if err := s.awaitIndex(r); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, membersBody{Members: nonNil(s.cluster.Status().Members)})
}

// VIPList is the body of GET /v1/vips: the VIP set and who holds it.
type VIPList struct {
	VIPs  []fsm.VIP `json:"vips"`
	Owner fsm.Owner `json:"owner"`
}

func (s *Server) vips(w http.ResponseWriter, r *http.Request) {
	if err := s.awaitIndex(r); err != nil {
		s.fail(w, r, err)
		return
	}
	st := s.cluster.Status()
	writeJSON(w, http.StatusOK, VIPList{VIPs: nonNil(st.VIPs), Owner: st.Owner})
}

// nonNil makes an empty list encode as [] rather than null, which scripts
// iterating over it expect.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
