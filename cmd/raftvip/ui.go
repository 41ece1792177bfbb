package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/raftvip/raftvip/internal/ui"
)

// validateUI checks -ui-addr and -ui-token-file.
func (c Config) validateUI() error {
	if c.UIAddr == "" {
		if c.UITokenFile != "" {
			return errors.New("-ui-token-file needs -ui-addr: without it no status page is served")
		}
		return nil
	}
	if err := checkHostPort("-ui-addr", c.UIAddr); err != nil {
		return err
	}
	if c.UIAddr == c.HTTPAddr || c.UIAddr == c.MonitorAddr {
		return fmt.Errorf("-ui-addr %s is -http-addr or -monitor-addr: the status page needs a port of its own", c.UIAddr)
	}
	return nil
}

// statusPage is the status page (-ui-addr): its listener, opened before
// Raft so that a busy port is reported before the data dir is touched, and
// the goroutine serving it, which shutdown waits for.
type statusPage struct {
	ln   net.Listener
	srv  *ui.Server
	log  *slog.Logger
	done chan struct{}
}

// openStatusPage reads -ui-token-file, refuses the cluster token as the
// page's token, and listens on -ui-addr; nil without -ui-addr. src is read
// only once serve has been called.
func openStatusPage(cfg Config, clusterToken []byte, src ui.SourceFunc, log *slog.Logger) (*statusPage, error) {
	if cfg.UIAddr == "" {
		return nil, nil
	}
	var token []byte
	if cfg.UITokenFile != "" {
		var err error
		if token, err = readToken(cfg.UITokenFile, log); err != nil {
			return nil, fmt.Errorf("-ui-token-file: %w", err)
		}
	}
	srv, err := ui.New(ui.Config{Source: src, Token: token, ClusterToken: clusterToken, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("-ui-token-file %s: %w", cfg.UITokenFile, err)
	}
	// Plain HTTP, like the monitor: a wall screen has no cluster certificate.
	ln, err := listen("-ui-addr", cfg.UIAddr, nil)
	if err != nil {
		return nil, err
	}
	return &statusPage{ln: ln, srv: srv, log: log}, nil
}

// serve starts serving the page.
func (p *statusPage) serve() {
	if p == nil {
		return
	}
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		if err := p.srv.Serve(p.ln); err != nil {
			p.log.Error("status page stopped", "err", err)
		}
	}()
}

// shutdown stops the page and waits for its goroutine.
func (p *statusPage) shutdown(ctx context.Context) {
	if p == nil || p.done == nil {
		return
	}
	if err := p.srv.Shutdown(ctx); err != nil {
		p.log.Warn("status page shutdown", "err", err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
	}
}

// close releases the listener of a page never served (a failed start).
func (p *statusPage) close() {
	if p != nil {
		_ = p.ln.Close()
	}
}
