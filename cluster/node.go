// Package cluster runs hashicorp/raft for raftvip: transport, boltdb stores,
// snapshots, bootstrap, membership, and the step from Raft leadership to VIP
// ownership (a committed fsm.Claim). It exposes one small type, Node.
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// tcpMaxPool and tcpTimeout are the TCP transport's connection pool size per
// peer and I/O timeout, as in hashicorp's own examples and Consul.
//
// tcpMaxInFlight 1 turns raft's pipelined replication off: every
// AppendEntries waits for its answer. In raft v1.7.3 a pipeline whose
// consumer has stopped (the leader stepped down) can wedge: the sender
// blocks handing a request to the decoder, the decoder blocks handing an
// answer to the consumer that is gone, and only the pipeline's Close, which
// the sender would call, frees them; Shutdown then waits for that
// replication goroutine for ever (docs/reliability.md, finding 1). The
// pipeline buys throughput under a high write rate, which a VIP manager
// never has: its writes are a VIP change, a health report or a claim, one
// at a time, and heartbeats go their own way either way.
const (
	tcpMaxPool     = 3
	tcpMaxInFlight = 1
	tcpTimeout     = 10 * time.Second
)

// Config is what Open needs to start a node.
type Config struct {
	// ID is this node's Raft server ID; stable across restarts.
	ID string
	// RaftBind is the listen address of the Raft TCP transport (host:port).
	RaftBind string
	// RaftAdvertise is the address peers dial; empty means RaftBind. It must be
	// a concrete address, not 0.0.0.0 or ::.
	RaftAdvertise string
	// APIAddr is this node's HTTP API address, recorded in the FSM (SetMember)
	// so that followers can point clients at the leader's API.
	APIAddr string
	// DataDir holds raft.db and the snapshots. Unused with InMemory.
	DataDir string
	// Timing are the Raft timeouts; Open refuses unsafe ones (Timing.Validate).
	Timing Timing
	// SeedVIPs is applied once (fsm.SeedVIPs) by a leader of a cluster that
	// has not been seeded yet. Afterwards the cluster's own set wins.
	SeedVIPs []fsm.VIP
	// Logger receives the node's and raft's logs; nil discards them.
	Logger *slog.Logger
	// OnChange is called on every Raft state or leader change and after every
	// FSM apply or restore. It must not block: it is meant as a poke.
	OnChange func()
	// Released waits until a reconcile pass that began after the call has
	// left this node holding no VIP, or ctx ends; a leader handing over
	// calls it after giving up the quorum lease and before the transfer.
	// Nil: the timing margin is waited instead.
	Released func(ctx context.Context) error
	// Transport replaces the TCP transport (tests use raft.NewInmemTransport).
	// If it has a Close method (raft.WithClose), Shutdown calls it.
	Transport raft.Transport
	// InMemory keeps the log, stable and snapshot stores in memory (tests).
	InMemory bool

	// Priority is this node's preference as leader, fsm.MinPriority to
	// fsm.MaxPriority; 0 means fsm.DefaultPriority.
	Priority int
	// Preempt lets a healthy voter of higher priority take leadership from
	// a healthy leader, once it has been ready for PreemptDelay.
	Preempt      bool
	PreemptDelay time.Duration
	// Witness makes this node a voter that never holds the VIPs: elected,
	// it hands leadership to a VIP-capable voter before any claim
	// (witness.go).
	Witness bool
	// Report sends this node's health report to the leader when this node
	// is not leader (the leader records it itself). Nil: health stays local.
	Report func(ctx context.Context, r HealthReport) error
	// Links returns the names of this node's interfaces, reported with its
	// health so that the leader can refuse a VIP pinned to a link the
	// members lack (checkVIPLinks). It is called on every pass of Run, so
	// it must be cheap. Nil, or a witness, reports none.
	Links func() []string
	// InUse, if set, says who already has a VIP's address ("" for nobody),
	// asked on this host's LAN (netops.InUse): a leader refuses to add a VIP
	// that another host answers for (AddVIP). An error means it could not
	// ask, and the add goes on: the holder still probes before it binds.
	InUse func(ctx context.Context, v fsm.VIP) (string, error)
	// TLS, when set, carries Raft over mutual TLS with this configuration
	// (pki.Identity.TLSConfig); nil means plain TCP.
	TLS *tls.Config
	// BootstrapExpect is reported in Status while the node has no state, so
	// that nodes forming a cluster together can check they agree on its size.
	BootstrapExpect int
	// ClusterID is the cluster the node's certificates are of ("" in
	// plaintext mode). Open refuses a data dir whose state belongs to another
	// cluster (ErrOtherCluster) and records it in a new one.
	ClusterID string

	// DialRaft checks, before the configuration changes, that a joining
	// node's Raft address accepts connections, and on a witness leader that
	// a voter it would hand leadership to does (witness.go). Nil dials TCP (a connect is
	// enough, TLS or not) when the node runs its own TCP transport, and checks
	// nothing with Transport set.
	DialRaft func(ctx context.Context, addr string) error
	// ProbeJoiner asks the node at a joining node's API address for its
	// status: its ID must match, and its applied index shows that it has
	// caught up with the leader's log before it is made a voter. Nil: the
	// leader judges by its own heartbeats to the node alone (joinCatchUp).
	ProbeJoiner func(ctx context.Context, apiAddr string) (Status, error)
}

// Node is one raftvip cluster member.
type Node struct {
	cfg    Config
	log    *slog.Logger
	fsm    *fsm.FSM
	raft   *raft.Raft
	stores stores
	trans  raft.Transport
	// warm keeps spare connections to the other members (nil with
	// Config.Transport); Run runs its keeper.
	warm     *warmStream
	hasState bool
	// openIndex is the last log index on disk at Open: the seed warning waits
	// until the local log has been applied up to it.
	openIndex uint64

	observer *raft.Observer
	// peerObserver feeds peerEvents.
	peerObserver *raft.Observer
	// observed receives raft's observations. raft sends without blocking and
	// the channel holds one, so a burst of observations collapses into one
	// poke; each is only a hint to re-read the state.
	observed chan raft.Observation
	// runPoke wakes Run for a change raft does not observe: this node's
	// health (SetHealth), which its next pass reports.
	runPoke chan struct{}
	// handOverMu serializes handovers: a second one must not take back the
	// lease's resignation while the first is still under way. It guards
	// recorded and shutdownTarget.
	handOverMu     sync.Mutex
	recorded       recordedHandover
	shutdownTarget preparedTarget
	// lease gates View's "leader" on a recent quorum confirmation and on no
	// handover under way (lease.go).
	lease quorumLease

	health   healthState
	counters counters
	// handoverPoke wakes the leader's handover loop on a health or FSM change.
	handoverPoke chan struct{}
	// applied wakes awaitSuccessor on the same changes.
	applied chan struct{}
	// handoverPasses counts the handover loop's evaluations, so that a test
	// can wait for decisions made rather than for time to pass.
	handoverPasses atomic.Uint64
	// passedOver limits the log lines about a voter passed over because its
	// Raft port did not answer: the handover loop asks again every pass.
	passedOver repeats
	// peerEvents receives raft's heartbeat observations (watchPeers).
	peerEvents chan raft.Observation
	// futures owns the goroutines that wait on raft; Shutdown ends them.
	futures futures

	shutdownOnce sync.Once
	shutdownErr  error
}

// Open validates cfg, opens the data dir and the stores, and starts Raft. It
// starts no goroutine of its own (Run does). On error nothing stays open and
// nothing in the data dir has been changed or removed.
func Open(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "cluster")
	hlog := NewHCLogger(log.Handler(), "raft")
	n := &Node{
		cfg:          cfg,
		log:          log,
		fsm:          fsm.New(),
		observed:     make(chan raft.Observation, 1),
		runPoke:      make(chan struct{}, 1),
		health:       healthState{unreachable: map[string]bool{}},
		handoverPoke: make(chan struct{}, 1),
		applied:      make(chan struct{}, 1),
		peerEvents:   make(chan raft.Observation, 16),
	}
	if n.cfg.Priority == 0 {
		n.cfg.Priority = fsm.DefaultPriority
	}
	st, err := openStores(cfg, hlog)
	if err != nil {
		return nil, err
	}
	n.stores = st
	if n.hasState, err = raft.HasExistingState(st.logs, st.stable, st.snaps); err != nil {
		return nil, errors.Join(fmt.Errorf("read raft state in %s: %w", cfg.DataDir, err), n.closeStores())
	}
	recordID, err := checkClusterID(st.stable, cfg.ClusterID, n.hasState, cfg.DataDir)
	if err != nil {
		return nil, errors.Join(err, n.closeStores())
	}
	var mg *memberGuard
	if n.trans, mg, n.warm, err = openTransport(cfg, log, hlog); err != nil {
		return nil, errors.Join(err, n.closeStores())
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	// A millisecond over the profile's, so that a follower can ask raft to
	// check its contact (detect.go).
	rc.HeartbeatTimeout = cfg.Timing.raftHeartbeat()
	rc.ElectionTimeout = cfg.Timing.raftElection()
	// Raft's step-down only ends leadership; the quorum lease drops the VIPs
	// (Timing.RaftLease).
	rc.LeaderLeaseTimeout = cfg.Timing.RaftLease()
	rc.Logger = hlog
	rep := &replica{f: n.fsm, log: log, changed: n.changed, moves: &n.counters.vipMoves}
	if n.raft, err = raft.NewRaft(rc, rep, st.logs, st.stable, st.snaps, n.trans); err != nil {
		return nil, errors.Join(fmt.Errorf("start raft: %w", err), n.closeTransport(), n.closeStores())
	}
	// Recorded only now, so that a start that failed (a busy port, say) has
	// not tied the data dir to a cluster.
	if recordID {
		if err := recordClusterID(st.stable, cfg.ClusterID, cfg.DataDir); err != nil {
			return nil, errors.Join(err, n.raft.Shutdown().Error(), n.closeTransport(), n.closeStores())
		}
	}
	if mg != nil {
		mg.follow(n.raft)
	}
	n.openIndex = n.raft.LastIndex()
	n.observer = raft.NewObserver(n.observed, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.RaftState, raft.LeaderObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.observer)
	n.peerObserver = raft.NewObserver(n.peerEvents, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.peerObserver)
	log.Info("raft started", "id", cfg.ID, "addr", n.trans.LocalAddr(), "tls", cfg.TLS != nil, "data_dir", cfg.DataDir,
		"has_state", n.hasState, "heartbeat", cfg.Timing.Heartbeat, "election", cfg.Timing.Election,
		"leader_lease", cfg.Timing.LeaderLease)
	return n, nil
}

func (c Config) validate() error {
	if c.ID == "" {
		return errors.New("cluster config: node ID is empty")
	}
	if err := c.Timing.Validate(); err != nil {
		return fmt.Errorf("cluster config: %w", err)
	}
	if !c.InMemory && c.DataDir == "" {
		return errors.New("cluster config: data dir is empty")
	}
	if c.Transport == nil && c.RaftBind == "" {
		return errors.New("cluster config: raft bind address is empty")
	}
	if c.Priority != 0 && (c.Priority < fsm.MinPriority || c.Priority > fsm.MaxPriority) {
		return fmt.Errorf("cluster config: priority %d is outside %d..%d", c.Priority, fsm.MinPriority, fsm.MaxPriority)
	}
	if c.PreemptDelay < 0 {
		return fmt.Errorf("cluster config: preempt delay %s is negative", c.PreemptDelay)
	}
	return nil
}

// openTransport returns cfg.Transport, or a TCP transport (over mutual TLS
// with cfg.TLS) on cfg.RaftBind that advertises cfg.RaftAdvertise, behind a
// memberGuard that Open points at raft once it runs, with spare connections
// that Run keeps warm (both nil with cfg.Transport).
func openTransport(cfg Config, log *slog.Logger, hlog hclog.Logger) (raft.Transport, *memberGuard, *warmStream, error) {
	if cfg.Transport != nil {
		return cfg.Transport, nil, nil, nil
	}
	adv := cfg.RaftAdvertise
	if adv == "" {
		adv = cfg.RaftBind
	}
	addr, err := net.ResolveTCPAddr("tcp", adv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("raft advertise address %q: %w", adv, err)
	}
	if addr.IP == nil || addr.IP.IsUnspecified() {
		// Peers would dial 0.0.0.0, i.e. themselves.
		return nil, nil, nil, fmt.Errorf("raft advertise address %q is not an address peers can dial: set the advertise address", adv)
	}
	tcp, err := newTCPStream(cfg.RaftBind, addr)
	if err != nil {
		return nil, nil, nil, err
	}
	var stream raft.StreamLayer = tcp
	dial := tcp.dialContext
	if cfg.TLS != nil {
		ts, err := newTLSStream(tcp, cfg.TLS, log)
		if err != nil {
			return nil, nil, nil, errors.Join(err, tcp.Close())
		}
		stream, dial = ts, ts.dialContext
	}
	// The member guard also stands in front of TLS, as a second bar: a member's
	// certificate used from a host that is not a member gets no further
	// unless that host also takes a member's address.
	g := newMemberGuard(stream, log, memberGuardOpenAfter*cfg.Timing.Heartbeat)
	w := newWarmStream(g, dial, log)
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: w, MaxPool: tcpMaxPool, Timeout: tcpTimeout, Logger: hlog.Named("transport"),
		MaxRPCsInFlight: tcpMaxInFlight,
	}), g, w, nil
}

// peerAddrs returns the Raft addresses of the other members, for the spares
// warmStream keeps.
func (n *Node) peerAddrs() []raft.ServerAddress {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return nil
	}
	var out []raft.ServerAddress
	for _, s := range cf.Configuration().Servers {
		if string(s.ID) != n.cfg.ID {
			out = append(out, s.Address)
		}
	}
	return out
}

// HasState reports whether the data dir held Raft state when the node was
// opened (raft.HasExistingState). Such a node needs neither bootstrap nor join.
func (n *Node) HasState() bool { return n.hasState }

// Joined reports whether the node holds cluster state now: from its data dir,
// or replicated to it since Open (a leader added it, or the others formed the
// cluster with it in the configuration).
func (n *Node) Joined() bool { return n.hasState || n.raft.LastIndex() > 0 }

// View returns what the reconciler decides on: the FSM state, whether this
// node is the Raft leader, and the current term (see fsm.State.HeldBy). The
// leader state is read before the term, so a sample can only err towards not
// holding. A leader handing over reports false from the moment it decides to.
func (n *Node) View() (st fsm.State, leader bool, term uint64) {
	_, st, g := n.view()
	return st, g.Leader, g.Term
}

// Gate is View's answer with the reason behind a "not leader".
type Gate struct {
	// Leader: Raft leader with a quorum proof younger than the leader lease.
	Leader bool
	Term   uint64
	// Why says why Leader is false, for the log; empty when it is true.
	Why string
	// Lapsed: Raft still leads in Term but has not proved it within the
	// leader lease (a stall, or a partition raft has not noticed yet). A proof
	// in this term can make Leader true again.
	Lapsed bool
}

// Gate returns View's state and gate, with the reason when it is closed.
func (n *Node) Gate() (fsm.State, Gate) {
	_, st, g := n.view()
	return st, g
}

// view is Gate plus the raft state it was derived from, read once, so that
// Status never shows a holder that is not Leader.
func (n *Node) view() (state raft.RaftState, st fsm.State, g Gate) {
	state = n.raft.State()
	g.Term = n.raft.CurrentTerm()
	if state != raft.Leader {
		g.Why = "not the Raft leader (" + state.String() + ")"
	} else {
		s := n.lease.standing(g.Term, time.Now(), n.cfg.Timing.LeaderLease)
		g.Leader, g.Why, g.Lapsed = s == standing{}, s.why, s.lapsed
	}
	return state, n.fsm.State(), g
}

// Shutdown hands leadership over if this node leads (bounded by ctx; a failed
// transfer is logged, not returned), stops Raft and closes the stores and the
// transport. The caller drops the VIPs first (docs/design.md, "Drop, then transfer").
// Operations that start afterwards fail; when it returns, no goroutine of the
// node or of raft remains, except Run's, which its ctx ends. It is idempotent
// and returns the first call's result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() { n.shutdownErr = n.shutdown(ctx) })
	return n.shutdownErr
}

func (n *Node) shutdown(ctx context.Context) error {
	if n.raft.State() == raft.Leader {
		term := n.raft.CurrentTerm()
		id, addr := n.shutdownTargetFor(ctx, term)
		if err := n.handOver(ctx, id, addr, false, fsm.ReasonShutdown); err != nil {
			n.log.Warn("leadership transfer before shutdown failed; the others elect a leader after the heartbeat timeout",
				"err", err)
		} else {
			n.awaitSuccessor(ctx, term)
		}
	}
	n.raft.DeregisterObserver(n.observer)
	n.raft.DeregisterObserver(n.peerObserver)
	// See futures for why raft must still run while they settle.
	n.futures.close()
	limit := n.cfg.Timing.settle()
	if left := n.futures.settle(limit); left > 0 {
		n.log.Warn("raft operations still pending at shutdown; stopping raft anyway", "pending", left, "waited", limit)
	}
	var errs []error
	stop, err := n.stopRaft(ctx)
	if err != nil {
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	if left := n.futures.settle(limit); left > 0 {
		n.log.Warn("raft dropped operations at shutdown; their waiters are abandoned", "pending", left)
	}
	if stop != raftStuck {
		errs = append(errs, n.closeStores())
	}
	if stop == raftStopped {
		errs = append(errs, n.closeTransport())
	}
	n.log.Info("raft stopped")
	return errors.Join(errs...)
}

// awaitSuccessor keeps raft running after this node handed leadership over
// in term at shutdown, until the successor's claim has committed here, or
// for leaderKnownWait at most. The successor needs a majority to acknowledge
// the claim, and this node, which holds the whole log and has just voted for
// it over an open connection, is usually the first to; the other followers
// must first write the new term and their vote. A node that stopped at once
// made its successor wait for one of them (docs/benchmarks.md, "Graceful
// handover: where the milliseconds go").
func (n *Node) awaitSuccessor(ctx context.Context, term uint64) {
	ctx, cancel := context.WithTimeout(ctx, n.leaderKnownWait())
	defer cancel()
	for {
		if o := n.fsm.Owner(); o.Term > term && o.Node != n.cfg.ID {
			return
		}
		select {
		case <-ctx.Done():
			n.log.Info("no successor's claim seen before stopping", "term", term, "waited", n.leaderKnownWait())
			return
		case <-n.applied:
		}
	}
}

// stopRaft shuts raft down. Raft waits for its replication goroutines, and
// one may sit in a call to a peer that does not answer for the transport's
// whole timeout (tcpTimeout): a node stopped while a peer's link flapped took
// over 20 s to exit. So when raft has not stopped within raftStopWait or by
// the end of ctx, the transport is closed, which fails such calls at once
// (tcpStream closes its connections). It reports how raft stopped.
func (n *Node) stopRaft(ctx context.Context) (raftStop, error) {
	f := n.raft.Shutdown()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	t := time.NewTimer(raftStopWait)
	defer t.Stop()
	select {
	case err := <-done:
		return raftStopped, err
	case <-ctx.Done():
	case <-t.C:
	}
	n.log.Warn("raft has not stopped: closing its connections so that calls to unresponsive peers end")
	cerr := n.closeTransport()
	t.Reset(raftStopWait)
	select {
	case err := <-done:
		return raftStoppedUnplugged, errors.Join(err, cerr)
	case <-t.C:
	}
	// Still not stopped: stop waiting, as systemd's SIGKILL would, rather
	// than hold the process. The VIPs are already dropped and the log is on
	// disk (fsync); the stores stay open, since raft may still use them.
	// The stacks name the goroutine raft's Shutdown still waits for.
	n.log.Error("raft did not stop; its goroutines follow", "stacks", raftStacks())
	return raftStuck, errors.Join(errors.New("raft did not stop: giving up on it"), cerr)
}

// raftStop is how stopRaft ended.
type raftStop int

const (
	raftStopped          raftStop = iota // on its own; the transport is still open
	raftStoppedUnplugged                 // after its transport was closed
	raftStuck                            // not at all: its stores must stay open
)

func (n *Node) closeTransport() error {
	if c, ok := n.trans.(raft.WithClose); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("close raft transport: %w", err)
		}
	}
	return nil
}

func (n *Node) closeStores() error {
	if n.stores.bolt == nil {
		return nil
	}
	if err := n.stores.bolt.Close(); err != nil {
		return fmt.Errorf("close raft store in %s: %w", n.cfg.DataDir, err)
	}
	return nil
}

// raftStopWait bounds how long Shutdown lets raft stop on its own before it
// closes the transport under it (stopRaft); raft stops in milliseconds unless
// a call to a peer hangs.
const raftStopWait = 2 * time.Second

// changed calls OnChange. It also runs on raft's FSM goroutine after every
// apply or restore, so it must not block (Config.OnChange says so).
func (n *Node) changed() {
	if n.cfg.OnChange != nil {
		n.cfg.OnChange()
	}
	n.pokeHandover()
	select {
	case n.applied <- struct{}{}:
	default:
	}
	// A member that joined, left or moved shows up here first (a join
	// applies its member record): its spares need not wait for a tick.
	if n.warm != nil {
		n.warm.poke()
	}
}

// Status returns a point-in-time view of this node for the API and the CLI.
func (n *Node) Status() Status {
	state, st, g := n.view()
	leader, term := g.Leader, g.Term
	leaderAddr, leaderID := n.raft.LeaderWithID()
	s := Status{
		ID:             n.cfg.ID,
		State:          RoleOf(state),
		Term:           term,
		LeaderID:       string(leaderID),
		LeaderRaftAddr: string(leaderAddr),
		LeaderAPIAddr:  st.Members[string(leaderID)].APIAddr,
		Holder:         st.HeldBy(n.cfg.ID, leader, term),
		Members:        []Member{},
		VIPs:           st.VIPs,
		Owner:          st.Owner,
		History:        st.History,
		AppliedIndex:   n.raft.AppliedIndex(),
		CommitIndex:    n.raft.CommitIndex(),
		LastIndex:      n.raft.LastIndex(),
		Priority:       n.cfg.Priority,
		Degraded:       n.degraded(),
		Witness:        n.cfg.Witness,
	}
	if s.VIPs == nil {
		s.VIPs = []fsm.VIP{}
	}
	if s.History == nil {
		s.History = []fsm.Change{}
	}
	if state != raft.Leader {
		s.LastContact = n.raft.LastContact()
	}
	if cf := n.raft.GetConfiguration(); cf.Error() == nil {
		for _, sv := range cf.Configuration().Servers {
			fm := st.Members[string(sv.ID)]
			s.Members = append(s.Members, Member{
				ID:       string(sv.ID),
				RaftAddr: string(sv.Address),
				APIAddr:  fm.APIAddr,
				Suffrage: suffrage(sv.Suffrage),
				Leader:   sv.ID == leaderID,
				Health:   fm.Health,
				Role:     fm.Role(),
				// A copy: the caller may sort or trim it; the FSM's is shared.
				Links: slices.Clone(fm.Links),
			})
		}
	}
	// Live, not n.hasState: a node joined since Open holds state too.
	s.RaftAddr = string(n.trans.LocalAddr())
	s.HasState = n.Joined() || len(s.Members) > 0
	if !s.HasState {
		s.BootstrapExpect = n.cfg.BootstrapExpect
	}
	n.addReach(&s, state == raft.Leader)
	return s
}

// suffrage names raft's suffrage the way Member documents it.
func suffrage(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return "voter"
	case raft.Nonvoter:
		return "nonvoter"
	case raft.Staging:
		return "staging"
	}
	return s.String()
}
