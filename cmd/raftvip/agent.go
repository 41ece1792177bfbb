package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/raftvip/raftvip/internal/agent"
)

// runAgent is `raftvip agent`: it parses the configuration, builds the agent
// (internal/agent) on this host's kernel and listeners, and runs it until
// SIGINT or SIGTERM. SIGHUP reloads the configuration from the same flags,
// environment and file.
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
	// From the first signal on, a second SIGINT/SIGTERM gets the default
	// action: exit at once, whatever the teardown is waiting for.
	defer context.AfterFunc(ctx, stop)()

	parts, err := agent.DefaultParts(cfg, getenv, log, level)
	if err != nil {
		return err
	}
	a, err := agent.New(cfg, parts)
	if err != nil {
		return err
	}
	var hup sync.WaitGroup
	hupCtx, stopHUP := context.WithCancel(ctx)
	hup.Go(func() { reloadOnHUP(hupCtx, a, args, getenv) })
	err = a.Run(ctx)
	stopHUP()
	hup.Wait()
	return err
}

// reloadOnHUP reloads on every SIGHUP until ctx ends, reading the
// configuration again from the same flags, environment and file.
func reloadOnHUP(ctx context.Context, a *agent.Agent, args []string, getenv func(string) string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			// The agent logs the outcome; a refused reload keeps it running.
			_ = a.Reload(func() (Config, error) { return parseAgentConfig(args, getenv, io.Discard) })
		}
	}
}

func parseLevel(s string) (slog.Level, error) { return agent.ParseLevel(s) }
