package agent

import (
	"fmt"
	"slices"
)

// Reload reads the configuration again through load and applies what is
// local to this node without a failover: log level (through Parts.Level),
// health checks, notify hooks, announcement schedule. Cluster state (the VIP
// set) changes only through the API. An invalid configuration changes
// nothing and is returned; settings that need a restart are named in the log
// and left as they run. systemd is told of the reload (RELOADING=1, then
// READY=1) around load, so a caller re-reading files on SIGHUP passes its
// parser. Reload is safe to call at any time, also concurrently with Run.
func (a *Agent) Reload(load func() (Config, error)) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	a.log.Info("reloading the configuration")
	a.svc.reloading()
	defer a.svc.reloaded()
	cfg, err := load()
	if err == nil {
		err = cfg.Validate()
	}
	if err == nil {
		err = a.mon.Update(cfg.Checks)
	}
	if err != nil {
		a.log.Error("reload refused: keeping the running configuration", "err", err)
		return fmt.Errorf("reload refused: %w", err)
	}
	if err := a.rec.SetSchedule(cfg.schedule()); err != nil {
		a.log.Error("announcement schedule not reloaded", "err", err)
	}
	a.hooks.Update(cfg.hooks())
	if a.parts.Level != nil {
		level, _ := ParseLevel(cfg.LogLevel) // Validate checked it
		a.parts.Level.Set(level)
	}
	if changed := restartOnly(a.running, cfg); len(changed) > 0 {
		a.log.Warn("these settings changed but take effect only after a restart", "settings", changed)
	}
	a.running = cfg
	a.log.Info("configuration reloaded", "log_level", cfg.LogLevel, "checks", len(cfg.Checks))
	return nil
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
