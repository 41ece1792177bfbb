package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/netops"
)

// reloader is what a SIGHUP reload needs: how the agent was configured, and
// the configuration running now. Only reloadOnHUP's goroutine touches it.
type reloader struct {
	args    []string
	getenv  func(string) string
	level   *slog.LevelVar
	running Config
}

// schedule is the announcement schedule of c.
func (c Config) schedule() netops.Schedule {
	return netops.Schedule{Burst: c.GARPCount, BurstGap: time.Duration(c.GARPInterval),
		Repeat: time.Duration(c.GARPRepeat), Refresh: time.Duration(c.GARPRefresh)}
}

// reloadOnHUP reloads on every SIGHUP until ctx ends.
func (a *agent) reloadOnHUP(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			a.reload()
		}
	}
}

// reload reads the configuration again from the same flags, environment and
// file, and applies what is local to this node without a failover: log
// level, health checks, notify hooks, announcement schedule. Cluster state
// (the VIP set) changes only through the API. An invalid file changes
// nothing; settings that need a restart are named and left as they run.
func (a *agent) reload() {
	r := &a.reloader
	a.log.Info("SIGHUP: reloading the configuration")
	a.svc.reloading()
	defer a.svc.reloaded()
	cfg, err := parseAgentConfig(r.args, r.getenv, io.Discard)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		a.log.Error("reload refused: keeping the running configuration", "err", err)
		return
	}
	if err := a.mon.Update(cfg.Checks); err != nil {
		a.log.Error("reload refused: keeping the running configuration", "err", err)
		return
	}
	if err := a.rec.SetSchedule(cfg.schedule()); err != nil {
		a.log.Error("announcement schedule not reloaded", "err", err)
	}
	a.hooks.Update(cfg.hooks())
	level, _ := parseLevel(cfg.LogLevel) // Validate checked it
	r.level.Set(level)
	if changed := restartOnly(r.running, cfg); len(changed) > 0 {
		a.log.Warn("these settings changed but take effect only after a restart", "settings", changed)
	}
	r.running = cfg
	a.log.Info("configuration reloaded", "log_level", cfg.LogLevel, "checks", len(cfg.Checks))
}

// restartOnly names the settings that differ between old and new and that a
// reload cannot apply: they shape the Raft node, its addresses, listeners,
// TLS identity and store, or (priority, preempt) what the cluster was told at
// start. vip, bootstrap, join and join-timeout act only on a node's first
// start, so a change to them is not named either.
func restartOnly(old, new Config) []string {
	fields := []struct {
		name string
		get  func(Config) any
	}{
		{"id", func(c Config) any { return c.ID }},
		{"raft-addr", func(c Config) any { return c.RaftAddr }},
		{"raft-advertise", func(c Config) any { return c.RaftAdvertise }},
		{"http-addr", func(c Config) any { return c.HTTPAddr }},
		{"data-dir", func(c Config) any { return c.DataDir }},
		{"interface", func(c Config) any { return c.Interface }},
		{"token-file", func(c Config) any { return c.TokenFile }},
		{"tls-cert", func(c Config) any { return c.TLSCert }},
		{"tls-key", func(c Config) any { return c.TLSKey }},
		{"tls-ca", func(c Config) any { return c.TLSCA }},
		{"insecure-plaintext", func(c Config) any { return c.InsecurePlaintext }},
		{"monitor-addr", func(c Config) any { return c.MonitorAddr }},
		{"ui-addr", func(c Config) any { return c.UIAddr }},
		{"ui-token-file", func(c Config) any { return c.UITokenFile }},
		{"timing", func(c Config) any { return c.Timing }},
		{"heartbeat", func(c Config) any { return c.Heartbeat }},
		{"election", func(c Config) any { return c.Election }},
		{"leader-lease", func(c Config) any { return c.LeaderLease }},
		{"vip-lease", func(c Config) any { return c.VIPLease }},
		{"log-format", func(c Config) any { return c.LogFormat }},
		{"priority", func(c Config) any { return c.Priority }},
		{"preempt", func(c Config) any { return c.Preempt }},
		{"preempt-delay", func(c Config) any { return c.PreemptDelay }},
	}
	var out []string
	for _, f := range fields {
		if f.get(old) != f.get(new) {
			out = append(out, f.name)
		}
	}
	return slices.Clip(out)
}
