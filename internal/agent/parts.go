package agent

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/hashicorp/raft"
	"github.com/vishvananda/netns"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/internal/sdnotify"
	"github.com/raftvip/raftvip/netops"
)

// Parts are what the agent does its I/O with, injected so that a test can run
// several agents in one process without root: fakes of the kernel
// (netops/netopstest), Raft's in-memory transport, listeners on loopback.
// DefaultParts builds the production ones. The agent owns the parts passed to
// New: it closes the listeners and calls Close when it is done, also when New
// fails.
type Parts struct {
	// Binder and Announcer are the kernel: interface addresses and
	// gratuitous ARP / unsolicited NA.
	Binder    netops.Binder
	Announcer netops.Announcer
	// Prober and Watcher, if set, look for other hosts on the LAN that
	// answer for a VIP before its first bind, or announce a held one.
	Prober  netops.Prober
	Watcher netops.Watcher
	// Links lists the interfaces to look for leftover VIPs on (LinkNames).
	Links func() ([]string, error)
	// RaftTransport replaces the TCP transport on Config.RaftAddr; its
	// address must be Config.Advertised(), which the join request names.
	RaftTransport raft.Transport
	// RaftInMemory keeps the Raft log and snapshots in memory, not in
	// Config.DataDir (tests).
	RaftInMemory bool
	// API listens for the HTTP API on Config.HTTPAddr: plain TCP, the agent
	// adds TLS and the connection cap. Monitor does the same for
	// Config.MonitorAddr, and must be set exactly when that is; UI for
	// Config.UIAddr, the status page, likewise.
	API, Monitor, UI net.Listener
	// Notifier speaks to systemd; nil does nothing.
	Notifier *sdnotify.Notifier
	// Logger receives the agent's logs; nil discards them. Level, if set, is
	// its level, which Reload sets from Config.LogLevel.
	Logger *slog.Logger
	Level  *slog.LevelVar
	// Close, if set, releases what the parts hold (the netlink handle, the
	// announcer's sockets) once the agent is done with them.
	Close func()
}

// check refuses parts that New cannot work with.
func (p Parts) check(cfg Config) error {
	switch {
	case p.Binder == nil || p.Announcer == nil:
		return errors.New("agent parts: no Binder or Announcer")
	case p.Links == nil:
		return errors.New("agent parts: no Links")
	case p.API == nil:
		return errors.New("agent parts: no API listener")
	case (p.Monitor != nil) != (cfg.MonitorAddr != ""):
		return errors.New("agent parts: a Monitor listener goes with -monitor-addr, and only with it")
	case (p.UI != nil) != (cfg.UIAddr != ""):
		return errors.New("agent parts: a UI listener goes with -ui-addr, and only with it")
	}
	return nil
}

// release closes the listeners and calls Close.
func (p Parts) release() {
	for _, ln := range []net.Listener{p.API, p.Monitor, p.UI} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if p.Close != nil {
		p.Close()
	}
}

// DefaultParts returns the production parts for cfg: netlink and raw
// sockets on this host, the Raft TCP transport (left to the cluster), TCP
// listeners on -http-addr, -monitor-addr and -ui-addr, and systemd's notify socket
// as getenv names it. On error nothing stays open.
func DefaultParts(cfg Config, getenv func(string) string, log *slog.Logger, level *slog.LevelVar) (_ Parts, err error) {
	p := Parts{Links: LinkNames, Notifier: sdnotify.New(getenv), Logger: log, Level: level}
	defer func() {
		if err != nil {
			p.release()
		}
	}()
	if cfg.Witness {
		// No netlink handle, no packet socket, no LAN prober or watcher: a
		// witness needs neither CAP_NET_ADMIN nor CAP_NET_RAW.
		p.Binder, p.Announcer, p.Links = witnessKernel{}, witnessKernel{}, noLinks
	} else {
		nl, err := netops.OpenNetlink(netns.None(), log)
		if err != nil {
			return Parts{}, err
		}
		ann := netops.NewAnnouncer(log)
		p.Close = func() {
			_ = ann.Close()
			nl.Close()
		}
		p.Binder, p.Announcer = nl, ann
		prober := netops.NewProber(0)
		p.Prober, p.Watcher = prober, prober
	}
	// Listened on before Raft is opened (New), so that a busy or wrong
	// -http-addr is reported before anything in the data dir is opened.
	if p.API, err = listen("-http-addr", cfg.HTTPAddr); err != nil {
		return Parts{}, err
	}
	if cfg.MonitorAddr != "" {
		if p.Monitor, err = listen("-monitor-addr", cfg.MonitorAddr); err != nil {
			return Parts{}, err
		}
	}
	if cfg.UIAddr != "" {
		if p.UI, err = listen("-ui-addr", cfg.UIAddr); err != nil {
			return Parts{}, err
		}
	}
	return p, nil
}

// listen listens on addr; flagName names the flag in errors.
func listen(flagName, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flagName, err)
	}
	return ln, nil
}

// apiListener caps ln's connections and, with conf, serves TLS on it.
func apiListener(ln net.Listener, conf *tls.Config) net.Listener {
	if ln == nil {
		return nil
	}
	return api.Listener(ln, conf)
}
