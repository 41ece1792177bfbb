package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
	"github.com/raftvip/raftvip/internal/metrics"
	"github.com/raftvip/raftvip/internal/notify"
	"github.com/raftvip/raftvip/internal/pki"
	"github.com/raftvip/raftvip/netops"
)

// shutdownBudget bounds the whole ordered teardown, so a wedged peer cannot keep
// a stopping node (and systemd) waiting.
const shutdownBudget = 10 * time.Second

func runAgent(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseAgentConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, level, err := newLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := newAgent(ctx, cfg, log)
	if err != nil {
		return err
	}
	a.reloader = reloader{args: args, getenv: getenv, level: level, running: cfg}
	a.svc = newService(getenv, log) // systemd notifications: service.go
	return a.run(ctx, stop)
}

// agent holds what runAgent wires together, so that start-up and the ordered
// teardown can each be read on their own.
type agent struct {
	cfg   Config
	log   *slog.Logger
	token []byte
	nl    *netlink.Handle
	ann   *netops.LinkAnnouncer
	rec   *netops.Reconciler
	node  *cluster.Node
	mon   *health.Monitor
	hooks *notify.Runner
	srv   *api.Server
	http  *http.Server
	ln    net.Listener
	svc   *service

	reloader reloader

	// failing is the health seen last by onHealth, holding the VIPs last
	// seen by onHeld; each is touched only by its own callback's goroutine.
	failing, holding bool
	// tls is the node's mutual TLS config; nil with -insecure-plaintext.
	tls *tls.Config
	// client calls this node's API (health reports) and, through At, the
	// members named by -join. One for all: a client per call would leave a
	// connection idle each time until the server's idle timeout, and the API
	// accepts only so many.
	client *api.Client
	// monitor and monLn serve -monitor-addr; nil without it.
	monitor *http.Server
	monLn   net.Listener
}

// newAgent checks everything that can be checked before touching state, then
// opens the data dir and removes leftover VIPs. On error it releases what it
// opened and leaves the data dir as it was.
func newAgent(ctx context.Context, cfg Config, log *slog.Logger) (_ *agent, err error) {
	// Not the named result: every error path returns nil for it, and the
	// deferred close must still see what was opened.
	a := &agent{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.token, err = readToken(cfg.TokenFile, log); err != nil {
		return nil, err
	}
	clusterID, err := a.loadTLS()
	if err != nil {
		return nil, err
	}
	a.client = api.NewClient(cfg.HTTPAddr, string(a.token), a.tls)
	seeds, _ := cfg.SeedVIPs()
	timing, _ := cfg.RaftTiming()
	if a.nl, err = netlink.NewHandle(); err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	binder := netops.NewNetlink(a.nl, log)
	if err := checkLinks(ctx, binder, cfg.Interface, seeds); err != nil {
		return nil, err
	}
	// Listen before opening Raft so that a busy or wrong -http-addr is reported
	// before anything in the data dir is opened.
	if a.ln, err = listen("-http-addr", cfg.HTTPAddr, a.tls); err != nil {
		return nil, err
	}
	if cfg.MonitorAddr != "" {
		// Plain HTTP on purpose: load balancers have no cluster certificate.
		if a.monLn, err = listen("-monitor-addr", cfg.MonitorAddr, nil); err != nil {
			return nil, err
		}
	}
	a.ann = netops.NewAnnouncer(log)
	a.hooks = notify.NewRunner(cfg.hooks(), log)
	a.rec, err = netops.NewReconciler(netops.Config{
		Node:      cfg.ID,
		Binder:    binder,
		Announcer: a.ann,
		View:      a.view,
		Lease:     time.Duration(cfg.VIPLease),
		Schedule:  cfg.schedule(),
		Logger:    log,
		Extra:     localize(seeds, cfg.Interface),
		OnHeld:    a.onHeld,
	})
	if err != nil {
		return nil, err
	}
	a.node, err = cluster.Open(cluster.Config{
		ID: cfg.ID, RaftBind: cfg.RaftAddr, RaftAdvertise: cfg.RaftAdvertise, APIAddr: cfg.HTTPAddr,
		DataDir: cfg.DataDir, Timing: timing, SeedVIPs: seeds, Logger: log, OnChange: a.rec.Poke,
		Priority: cfg.Priority, Preempt: cfg.Preempt, PreemptDelay: time.Duration(cfg.PreemptDelay),
		Report: a.reportHealth,
		TLS:    a.tls, ClusterID: clusterID,
	})
	if err != nil {
		return nil, err
	}
	// A crashed or killed predecessor may have left VIPs in the kernel; they must
	// go before this node takes part in any election (DESIGN.md, safety).
	if removed, err := removeLeftovers(ctx, binder, linkNames, append(a.node.KnownVIPs(), seeds...), cfg.Interface, log); err != nil {
		return nil, fmt.Errorf("remove leftover VIPs: %w", err)
	} else if len(removed) > 0 {
		log.Warn("removed VIPs left configured by an earlier run", "vips", removed)
	}
	if a.mon, err = health.NewMonitor(cfg.Checks, health.MonitorConfig{Logger: log, OnChange: a.onHealth}); err != nil {
		return nil, fmt.Errorf("checks: %w", err)
	}
	if a.srv, err = api.NewServer(api.ServerConfig{Cluster: a.node, Token: a.token, Logger: log, TLS: a.tls,
		Metrics: metrics.Handler(a.metricsSources())}); err != nil {
		return nil, err
	}
	// net/http reports refused TLS handshakes ("client didn't provide a
	// certificate") through ErrorLog; into the agent's log, not bare stderr.
	httpLog := slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn)
	a.http = api.NewHTTPServer(cfg.HTTPAddr, a.srv.Handler())
	a.http.ErrorLog = httpLog
	if a.monLn != nil {
		a.monitor = api.NewHTTPServer(cfg.MonitorAddr, a.srv.MonitorHandler())
		a.monitor.ErrorLog = httpLog
	}
	return a, nil
}

// loadTLS loads the node's certificate into a.tls and returns the cluster ID
// of its CA, or warns that the node runs in plaintext ("" then).
func (a *agent) loadTLS() (string, error) {
	ident, err := a.cfg.tlsFiles().load(a.log)
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

// listen listens on addr for the API (with the connection cap, and TLS when
// conf is set); flagName names the flag in errors.
func listen(flagName, addr string, conf *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return api.Listener(ln, conf), nil
}

// view is the reconciler's window on the node. -interface is local to this
// node, so it is applied here rather than stored in the replicated set.
func (a *agent) view() netops.View {
	st, g := a.node.Gate()
	st.VIPs = localize(st.VIPs, a.cfg.Interface)
	return netops.View{State: st, Leader: g.Leader, Term: g.Term, Why: g.Why, Lapsed: g.Lapsed}
}

func (a *agent) run(ctx context.Context, stop context.CancelFunc) error {
	log := a.log
	if a.cfg.Bootstrap {
		if err := a.node.Bootstrap(); err != nil {
			a.close()
			return fmt.Errorf("bootstrap: %w", err)
		}
	}
	runCtx, cancelRun := context.WithCancel(context.Background())
	recCtx, cancelRec := context.WithCancel(context.Background())
	// The checks and hooks outlive the reconciler: the backup hook fires when
	// it drops the VIPs on the way out.
	sideCtx, cancelSide := context.WithCancel(context.Background())
	defer cancelSide()
	go func() { _ = a.hooks.Run(sideCtx) }()
	go func() { _ = a.mon.Run(sideCtx) }()
	runDone, recDone, httpDone := make(chan error, 1), make(chan error, 1), make(chan error, 2)
	go func() { runDone <- a.node.Run(runCtx) }()
	go func() { recDone <- a.rec.Run(recCtx) }()
	go a.reloadOnHUP(sideCtx)
	go func() { httpDone <- a.http.Serve(a.ln) }()
	go a.svc.run(recCtx, a.rec.LastPass, a.node.Status)
	if a.monitor != nil {
		go func() { httpDone <- fmt.Errorf("monitor: %w", a.monitor.Serve(a.monLn)) }()
	}
	log.Info("raftvip agent started", "id", a.cfg.ID, "raft", a.cfg.RaftAddr, "http", a.cfg.HTTPAddr,
		"monitor", a.cfg.MonitorAddr, "tls", a.tls != nil, "data_dir", a.cfg.DataDir, "has_state", a.node.HasState())

	var fatal error
	if len(a.cfg.Join) > 0 {
		if a.node.HasState() {
			log.Info("data dir holds cluster state: resuming membership, -join not needed", "join", a.cfg.Join)
		} else if err := a.join(ctx); err != nil && ctx.Err() == nil {
			fatal = err
		}
	}
	if fatal == nil {
		a.svc.ready()
		select {
		case <-ctx.Done():
		case err := <-httpDone:
			fatal = fmt.Errorf("http server: %w", err)
		case err := <-runDone:
			fatal = fmt.Errorf("cluster: %w", err)
			runDone <- err
		}
	}
	// From here a second SIGINT/SIGTERM gets the default action: exit at once.
	stop()
	a.shutdown(cancelRec, recDone, cancelRun, runDone)
	return fatal
}

// shutdown runs the teardown in the order DESIGN.md requires: drop the VIPs
// before handing leadership over, so that a short outage is possible but two
// holders are not.
func (a *agent) shutdown(cancelRec context.CancelFunc, recDone <-chan error, cancelRun context.CancelFunc, runDone <-chan error) {
	log := a.log
	a.svc.stopping()
	log.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), shutdownBudget)
	defer cancel()
	// 1. No new writes: a VIP added now could not be served by this node anyway.
	a.srv.StopWrites()
	// 2. Drop the VIPs. The reconciler unbinds everything it manages on return.
	cancelRec()
	if err := waitDone(ctx, recDone); err != nil {
		log.Error("reconciler did not stop cleanly", "err", err)
	}
	// Stop following leadership before Raft goes: its lease keeper would
	// otherwise queue a VerifyLeader that a shut-down Raft never answers.
	// The handover below does not need it.
	cancelRun()
	_ = waitDone(ctx, runDone)
	// 3-5. Transfer leadership if leader, shut Raft down, close the stores.
	if err := a.node.Shutdown(ctx); err != nil {
		log.Error("raft shutdown", "err", err)
	}
	if err := a.http.Shutdown(ctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if a.monitor != nil {
		if err := a.monitor.Shutdown(ctx); err != nil {
			log.Warn("monitor shutdown", "err", err)
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

// close releases what newAgent opened. Safe on a partly built agent.
func (a *agent) close() {
	if a.node != nil {
		// Idempotent: after an ordered shutdown this is a no-op; after a failed
		// start it closes the stores and keeps the data.
		_ = a.node.Shutdown(context.Background())
	}
	if a.ann != nil {
		_ = a.ann.Close()
	}
	if a.ln != nil {
		_ = a.ln.Close()
	}
	if a.monLn != nil {
		_ = a.monLn.Close()
	}
	if a.nl != nil {
		a.nl.Close()
	}
}

func waitDone(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// join asks the listed members, in turn, to add this node, until one accepts or
// -join-timeout passes. Followers forward the request to the leader.
func (a *agent) join(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(a.cfg.JoinTimeout))
	defer cancel()
	req := api.JoinRequest{ID: a.cfg.ID, RaftAddr: advertised(a.cfg), APIAddr: a.cfg.HTTPAddr}
	backoff := 200 * time.Millisecond
	var last error
	for {
		for _, addr := range a.cfg.Join {
			attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
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
		select {
		case <-ctx.Done():
			return fmt.Errorf("no member accepted the join within %s: %w", time.Duration(a.cfg.JoinTimeout), last)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// reportHealth sends this node's health report to the leader, through this
// node's own API, which forwards writes to the leader.
func (a *agent) reportHealth(ctx context.Context, c fsm.Command) error {
	return a.client.ReportHealth(ctx,
		api.HealthReport{ID: c.Node, Healthy: c.Healthy, Fault: c.Fault, Priority: c.Priority})
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

func advertised(c Config) string {
	if c.RaftAdvertise != "" {
		return c.RaftAdvertise
	}
	return c.RaftAddr
}

// checkLinks refuses an unknown -interface, and -vip values that no local
// interface could carry, before anything is started.
func checkLinks(ctx context.Context, b netops.Binder, iface string, seeds []fsm.VIP) error {
	if iface != "" {
		if _, err := net.InterfaceByName(iface); err != nil {
			return fmt.Errorf("-interface %q: %w", iface, err)
		}
		return nil
	}
	for _, v := range seeds {
		if _, err := b.LinkFor(ctx, v.Prefix.Addr()); err != nil {
			return fmt.Errorf("-vip %s: %w; set -interface", v.Prefix, err)
		}
	}
	return nil
}

// localize pins VIPs without an interface of their own to this node's -interface.
func localize(vs []fsm.VIP, iface string) []fsm.VIP {
	if iface == "" {
		return vs
	}
	out := make([]fsm.VIP, len(vs))
	for i, v := range vs {
		if v.Interface == "" {
			v.Interface = iface
		}
		out[i] = v
	}
	return out
}

// linkNames lists every interface. An error is returned, not swallowed: with
// no links, RemoveLeftovers would check nothing and the start would go on as if
// the kernel held no leftover VIP.
func linkNames() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make([]string, 0, len(ifs))
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return names, nil
}
