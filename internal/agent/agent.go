// Package agent is the raftvip daemon as a library: New wires a cluster
// node, the reconciler that binds the VIPs, the HTTP API, health checks,
// notify hooks and systemd notifications from a Config and injected Parts;
// Run runs them until its context ends and then tears them down in the order
// that keeps two nodes from holding a VIP: drop the VIPs, then hand
// leadership over. cmd/raftvip parses flags, environment and file into a
// Config and turns signals into Run's cancellation and Reload.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
	"github.com/raftvip/raftvip/internal/metrics"
	"github.com/raftvip/raftvip/internal/notify"
	"github.com/raftvip/raftvip/internal/pki"
	"github.com/raftvip/raftvip/internal/ui"
	"github.com/raftvip/raftvip/netops"
)

// shutdownBudget bounds the ordered teardown, so a wedged peer cannot keep
// a stopping node (and systemd) waiting.
const shutdownBudget = 10 * time.Second

// ErrRan is returned by Run when the agent has already run (or was closed):
// an agent runs once.
var ErrRan = errors.New("agent already ran")

// Agent is one raftvip daemon. New builds it, Run runs it once.
type Agent struct {
	cfg   Config
	parts Parts
	log   *slog.Logger
	token []byte
	rec   *netops.Reconciler
	node  *cluster.Node
	mon   *health.Monitor
	hooks *notify.Runner
	srv   *api.Server
	http  *http.Server
	svc   *service
	// apiLn, monLn and uiLn are the parts' listeners with the connection cap
	// (and TLS for the API); monitor serves -monitor-addr and page the status
	// page on -ui-addr (ui.go), each nil without its flag.
	apiLn, monLn, uiLn net.Listener
	monitor            *http.Server
	page               *ui.Server

	// tls is the node's mutual TLS config; nil with -insecure-plaintext.
	tls *tls.Config
	// client calls this node's API (health reports) and, through At, the
	// members named by -join. One for all: a client per call would leave a
	// connection idle each time until the server's idle timeout, and the API
	// accepts only so many.
	client *api.Client

	// failing is the health seen last by onHealth, holding the VIPs last
	// seen by onHeld; each is touched only by its own callback's goroutine.
	failing, holding bool
	// announced is true once a master or backup hook has fired (onHeld,
	// noteRole); only the reconciler's goroutine touches it.
	announced bool

	// reloadMu serializes Reload; running is the configuration in effect.
	reloadMu sync.Mutex
	running  Config

	ran       atomic.Bool
	closeOnce sync.Once
}

// New checks everything that can be checked before touching state, then
// opens the data dir and removes leftover VIPs. It starts no goroutine. On
// error it releases what it opened and the parts, and leaves the data dir as
// it was.
func New(cfg Config, parts Parts) (_ *Agent, err error) {
	log := parts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Not the named result: every error path returns nil for it, and the
	// deferred close must still see what was opened.
	a := &Agent{cfg: cfg, parts: parts, log: log, running: cfg}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := parts.check(cfg); err != nil {
		return nil, err
	}
	if a.token, err = ReadToken(cfg.TokenFile, log); err != nil {
		return nil, err
	}
	clusterID, err := a.loadTLS()
	if err != nil {
		return nil, err
	}
	a.client = api.NewClient(cfg.HTTPAddr, string(a.token), a.tls)
	if a.page, err = a.newStatusPage(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	seeds, _ := cfg.SeedVIPs()
	timing, _ := cfg.RaftTiming()
	if err := checkLinks(ctx, parts.Binder, cfg.Interface, seeds); err != nil {
		return nil, err
	}
	a.hooks = notify.NewRunner(cfg.hooks(), log)
	a.rec, err = netops.NewReconciler(netops.Config{
		Node:      cfg.ID,
		Binder:    parts.Binder,
		Announcer: parts.Announcer,
		View:      a.view,
		Lease:     time.Duration(cfg.VIPLease),
		Schedule:  cfg.schedule(),
		Logger:    log,
		Extra:     localize(seeds, cfg.Interface),
		OnHeld:    a.onHeld,
		Prober:    parts.Prober,
		Watcher:   parts.Watcher,
	})
	if err != nil {
		return nil, err
	}
	a.node, err = cluster.Open(cluster.Config{
		ID: cfg.ID, RaftBind: cfg.RaftAddr, RaftAdvertise: cfg.RaftAdvertise, APIAddr: cfg.HTTPAddr,
		DataDir: cfg.DataDir, Timing: timing, SeedVIPs: seeds, Logger: log, OnChange: a.rec.Poke,
		Priority: cfg.Priority, Preempt: cfg.Preempt, PreemptDelay: time.Duration(cfg.PreemptDelay), Witness: cfg.Witness,
		Report: a.reportHealth, Links: newLinkCache(parts.Links).links, TLS: a.tls, ClusterID: clusterID, BootstrapExpect: cfg.BootstrapExpect,
		Transport: parts.RaftTransport, InMemory: parts.RaftInMemory,
		// A joining node must answer on its API, as itself, before it enters
		// the configuration (cluster/join.go).
		ProbeJoiner: func(ctx context.Context, addr string) (cluster.Status, error) { return a.client.At(addr).Status(ctx) },
		Released:    a.rec.Released,
		InUse:       inUse(parts),
	})
	if err != nil {
		return nil, err
	}
	// A crashed or killed predecessor may have left VIPs in the kernel; they must
	// go before this node takes part in any election (docs/design.md, "Leftovers at start").
	if removed, err := RemoveLeftovers(ctx, parts.Binder, parts.Links, append(a.node.KnownVIPs(), seeds...), cfg.Interface, log); err != nil {
		return nil, fmt.Errorf("remove leftover VIPs: %w", err)
	} else if len(removed) > 0 {
		log.Warn("removed VIPs left configured by an earlier run", "vips", removed)
	}
	if a.mon, err = health.NewMonitor(cfg.Checks, health.MonitorConfig{Logger: log, OnChange: a.onHealth}); err != nil {
		return nil, fmt.Errorf("checks: %w", err)
	}
	if a.srv, err = api.NewServer(api.ServerConfig{Cluster: a.node, Token: a.token, Logger: log, TLS: a.tls,
		Metrics: metrics.Handler(a.metricsSources()), Conflicts: a.statusConflicts}); err != nil {
		return nil, err
	}
	a.newHTTPServers()
	a.svc = newService(parts.Notifier, log)
	return a, nil
}

// newHTTPServers prepares the API server and, with -monitor-addr, the
// monitor's, on the parts' listeners.
func (a *Agent) newHTTPServers() {
	// net/http reports refused TLS handshakes ("client didn't provide a
	// certificate") through ErrorLog; into the agent's log, not bare stderr.
	httpLog := slog.NewLogLogger(a.log.With("component", "http").Handler(), slog.LevelWarn)
	a.apiLn = apiListener(a.parts.API, a.tls)
	a.http = api.NewHTTPServer(a.cfg.HTTPAddr, a.srv.Handler())
	a.http.ErrorLog = httpLog
	if a.parts.Monitor != nil {
		// Plain HTTP on purpose: load balancers have no cluster certificate.
		a.monLn = apiListener(a.parts.Monitor, nil)
		a.monitor = api.NewHTTPServer(a.cfg.MonitorAddr, a.srv.MonitorHandler())
		a.monitor.ErrorLog = httpLog
	}
}

// loadTLS loads the node's certificate into a.tls and returns the cluster ID
// of its CA, or warns that the node runs in plaintext ("" then).
func (a *Agent) loadTLS() (string, error) {
	ident, err := a.cfg.TLSFiles().Load(a.log)
	if err != nil || ident == nil {
		if err == nil {
			a.log.Warn("Raft and API traffic is unauthenticated and unencrypted (-insecure-plaintext): " +
				"anyone on the LAN can join the cluster, vote, and move or add VIPs with a sniffed token")
		}
		return "", err
	}
	if ident.ID != a.cfg.ID {
		a.log.Warn("the certificate was made for another node ID", "cert_id", ident.ID, "id", a.cfg.ID)
	}
	a.tls = ident.TLSConfig()
	a.log.Info("TLS on for Raft and the API", "cluster_id", ident.ClusterID, "cert_id", ident.ID,
		"cert_expires", ident.Cert.Leaf.NotAfter.Format(time.DateOnly))
	return ident.ClusterID, nil
}

// view is the reconciler's window on the node, with -interface applied.
func (a *Agent) view() netops.View {
	st, g := a.node.Gate()
	if a.cfg.Witness {
		return witnessView(st, g.Term)
	}
	a.noteRole(st, g.Leader, g.Term)
	st.VIPs = localize(st.VIPs, a.cfg.Interface)
	return netops.View{State: st, Leader: g.Leader, Term: g.Term, Why: g.Why, Lapsed: g.Lapsed}
}

// Ready is closed once the node is a member (bootstrapped, joined or resumed
// from its data dir) and serves; systemd hears READY=1 at the same moment.
func (a *Agent) Ready() <-chan struct{} { return a.svc.readyCh }

// Run runs the agent until ctx is cancelled or a part fails, then tears it
// down in order (shutdown) and returns once every goroutine it started has
// ended. It returns nil after a cancellation, else what failed: a bootstrap
// or join that did not succeed (becomeMember), the API server, the cluster. An agent runs
// once; a second Run returns ErrRan.
func (a *Agent) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return ErrRan
	}
	var g group
	defer g.wait()
	// Each stage has its own context, cancelled in shutdown's order, not all
	// at once by ctx.
	runCtx, cancelRun := context.WithCancel(context.Background())
	recCtx, cancelRec := context.WithCancel(context.Background())
	// The checks and hooks outlive the reconciler: the backup hook fires when
	// it drops the VIPs on the way out.
	sideCtx, cancelSide := context.WithCancel(context.Background())
	defer cancelSide()
	defer cancelRun()
	defer cancelRec()
	g.start(func() error { return a.hooks.Run(sideCtx) })
	g.start(func() error { return a.mon.Run(sideCtx) })
	runDone := g.start(func() error { return a.node.Run(runCtx) })
	recDone := g.start(func() error { return a.rec.Run(recCtx) })
	httpDone := g.start(func() error { return serve(a.http, a.apiLn, "http server") })
	g.start(func() error { a.svc.run(recCtx, a.rec.LastPass, a.node.Status); return nil })
	monDone := make(chan error) // never ready without -monitor-addr
	if a.monitor != nil {
		monDone = g.start(func() error { return serve(a.monitor, a.monLn, "monitor") })
	}
	uiDone := make(chan error) // never ready without -ui-addr
	if a.page != nil {
		uiDone = g.start(func() error { return a.page.Serve(a.uiLn) })
	}
	a.log.Info("raftvip agent started", "id", a.cfg.ID, "raft", a.cfg.RaftAddr, "http", a.cfg.HTTPAddr,
		"monitor", a.cfg.MonitorAddr, "ui", a.cfg.UIAddr, "tls", a.tls != nil, "data_dir", a.cfg.DataDir, "has_state", a.node.HasState())

	var fatal error
	// The API serves while this runs: nodes forming a cluster ask each other.
	if err := a.becomeMember(ctx); err != nil && ctx.Err() == nil {
		fatal = err
	}
	if fatal == nil {
		a.svc.ready()
		select {
		case <-ctx.Done():
		case fatal = <-httpDone:
		case fatal = <-monDone:
		case fatal = <-uiDone:
		case err := <-runDone:
			fatal = fmt.Errorf("cluster: %w", err)
			runDone <- err // for shutdown, which waits for it
		}
	}
	a.shutdown(cancelRec, recDone, cancelRun, runDone)
	return fatal
}

// serve serves h on ln until h is shut down (nil then).
func serve(h *http.Server, ln net.Listener, what string) error {
	if err := h.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// shutdown runs the teardown in the order docs/design.md ("What happens at SIGTERM") requires: drop the VIPs
// before handing leadership over, so that a short outage is possible but two
// holders are not.
func (a *Agent) shutdown(cancelRec context.CancelFunc, recDone <-chan error, cancelRun context.CancelFunc, runDone <-chan error) {
	log := a.log
	a.svc.stopping()
	log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	// 1. No new writes: a VIP added now could not be served by this node anyway.
	a.srv.StopWrites()
	// 2. While the VIPs are still served: the leader's handover below needs
	// its reason in the log, and that write round must not lengthen the outage.
	a.node.PrepareShutdown(ctx)
	// 3. Drop the VIPs. The reconciler unbinds everything it manages on return.
	cancelRec()
	if err := waitDone(ctx, recDone); err != nil {
		log.Error("reconciler did not stop cleanly", "err", err)
	}
	// Stop following leadership before Raft goes: its lease keeper would
	// otherwise queue a VerifyLeader that a shut-down Raft never answers.
	// The handover below does not need it.
	cancelRun()
	_ = waitDone(ctx, runDone)
	// 4-6. Transfer leadership if leader, shut Raft down, close the stores.
	if err := a.node.Shutdown(ctx); err != nil {
		log.Error("raft shutdown", "err", err)
	}
	for _, h := range []*http.Server{a.http, a.monitor} {
		if h == nil {
			continue
		}
		if err := h.Shutdown(ctx); err != nil {
			log.Warn("http shutdown", "addr", h.Addr, "err", err)
			_ = h.Close() // the handlers still running end with their connections
		}
	}
	if a.page != nil {
		if err := a.page.Shutdown(ctx); err != nil {
			log.Warn("status page shutdown", "addr", a.cfg.UIAddr, "err", err)
			_ = a.page.Close()
		}
	}
	// Last, so that the stop hook sees the VIPs gone and leadership handed on;
	// Stop also runs whatever backup or fault hook is still queued.
	_, _, term := a.node.View()
	a.hooks.Fire(notify.EventStop, notify.Info{Node: a.cfg.ID, Term: term, VIPs: a.vipNames()})
	if err := a.hooks.Stop(ctx); err != nil {
		log.Warn("notify hooks cut short by the shutdown budget", "err", err)
	}
	a.close()
	log.Info("stopped")
}

// Close releases an agent that New built but that will not Run. After Run it
// does nothing.
func (a *Agent) Close() {
	if a.ran.CompareAndSwap(false, true) {
		a.close()
	}
}

// close releases what New opened and the parts. Safe on a partly built agent
// and more than once.
func (a *Agent) close() {
	a.closeOnce.Do(func() {
		if a.node != nil {
			// Idempotent: after an ordered shutdown this is a no-op; after a failed
			// start it closes the stores and keeps the data.
			_ = a.node.Shutdown(context.Background())
		}
		a.parts.release()
	})
}

func waitDone(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// joinAttempt bounds one join request; the backoff between rounds grows
// from joinBackoff to joinBackoffMax.
const (
	joinAttempt    = 5 * time.Second
	joinBackoff    = 200 * time.Millisecond
	joinBackoffMax = 5 * time.Second
)

// join asks the listed members, in turn, to add this node, until one accepts or
// -join-timeout passes. Followers forward the request to the leader.
func (a *Agent) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.cfg.JoinTimeout))
	defer cancel()
	req := api.JoinRequest{ID: a.cfg.ID, RaftAddr: a.cfg.Advertised(), APIAddr: a.cfg.HTTPAddr}
	backoff := joinBackoff
	var last error
	for {
		for _, addr := range a.cfg.Join {
			attempt, cancelAttempt := context.WithTimeout(ctx, joinAttempt)
			err := a.client.At(addr).Join(attempt, req)
			cancelAttempt()
			if err == nil {
				a.log.Info("joined the cluster", "via", addr)
				return nil
			}
			if errors.Is(err, api.ErrUnauthorized) {
				return fmt.Errorf("join via %s: refused: the token in -token-file does not match the cluster's", addr)
			}
			if certRefused(err) {
				// Another cluster's member, or this node's certificates are
				// of another CA: retrying cannot help.
				return fmt.Errorf("join via %s: the member's certificate is not of this node's cluster CA (-tls-ca): %w", addr, err)
			}
			last = fmt.Errorf("join via %s: %w", addr, err)
			a.log.Warn("join attempt failed, will retry", "addr", addr, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("no member accepted the join within %s (-join-timeout): %w", time.Duration(a.cfg.JoinTimeout), last)
		case <-t.C:
		}
		backoff = min(backoff*2, joinBackoffMax)
	}
}

// reportHealth sends this node's health report to the leader, through this
// node's own API, which forwards writes to the leader; without the links
// when the leader's release does not know them (linksRefused).
func (a *Agent) reportHealth(ctx context.Context, r cluster.HealthReport) error {
	rep := api.HealthReport{ID: r.ID, Healthy: r.Healthy, Fault: r.Fault, Priority: r.Priority, Witness: r.Witness,
		Links: r.Links}
	err := a.client.ReportHealth(ctx, rep)
	if len(rep.Links) > 0 && linksRefused(err) {
		rep.Links = nil
		err = a.client.ReportHealth(ctx, rep)
	}
	return err
}

// certRefused reports whether err is this node refusing the peer's
// certificate: signed by another CA, or of another cluster. The client end
// verifies in pki's VerifyConnection (crypto/tls's own check is off:
// InsecureSkipVerify), so these are the only errors it returns for a peer's
// certificate.
func certRefused(err error) bool {
	var unknown x509.UnknownAuthorityError
	return errors.As(err, &unknown) || errors.Is(err, pki.ErrOtherCluster)
}

// inUse asks the LAN through the parts' Prober whether another host has a
// VIP's address before this node, as leader, adds it; nil without a Prober
// (a witness, which has no LAN link to ask on).
func inUse(parts Parts) func(context.Context, fsm.VIP) (string, error) {
	if parts.Prober == nil {
		return nil
	}
	return func(ctx context.Context, v fsm.VIP) (string, error) {
		return netops.InUse(ctx, parts.Binder, parts.Prober, v)
	}
}
