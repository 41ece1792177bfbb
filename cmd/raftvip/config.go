package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/raftvip/raftvip/internal/agent"
)

// errUsage marks errors in the command line itself; main exits 2 for them.
var errUsage = errors.New("usage")

// envPrefix is the prefix of the environment fallbacks: -data-dir reads
// RAFTVIP_DATA_DIR when the flag is not given.
const envPrefix = "RAFTVIP_"

// Config is the agent's configuration (internal/agent): this file fills
// it from flags, environment and file.
type Config = agent.Config

// defaultConfig is the configuration before any source is applied.
func defaultConfig() Config { return agent.DefaultConfig() }

// agentFlags binds every agent flag to a field of c.
func agentFlags(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.String("config", "", "YAML config file; keys are the flag names (flags win over the file)")
	fs.StringVar(&c.ID, "id", c.ID, "unique node ID (default: the host name)")
	fs.StringVar(&c.RaftAddr, "raft-addr", c.RaftAddr, "host:port for Raft traffic between nodes (required)")
	fs.StringVar(&c.RaftAdvertise, "raft-advertise", c.RaftAdvertise, "host:port peers dial, when -raft-addr is a wildcard")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "host:port of the HTTP API, dialed by peers (default: the Raft host peers dial, port 8080)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the Raft log, stable store and snapshots")
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "create a new cluster with this node as its first member, unless a node -join lists is a member of one (ignored when the data dir has state)")
	fs.IntVar(&c.BootstrapExpect, "bootstrap-expect", c.BootstrapExpect, "form a new cluster of this many nodes once all of them, listed by -join, see each other (same value and -join on every node; ignored when the data dir has state)")
	fs.Var(&c.Join, "join", "comma-separated HTTP addresses of cluster members to join; retried until one answers")
	fs.Var(&c.JoinTimeout, "join-timeout", "give up joining after this long")
	fs.Var(&c.VIPs, "vip", "VIP in CIDR form, repeatable; seeds the VIP set of a new cluster")
	fs.StringVar(&c.Interface, "interface", c.Interface, "interface for the VIPs on this node (default: the one whose subnet contains the VIP)")
	fs.BoolVar(&c.Witness, "witness", c.Witness, "vote in the cluster but never hold the VIPs: the third voter of two VIP hosts; no -vip, -interface, checks or holding hooks, and no CAP_NET_ADMIN/CAP_NET_RAW needed")
	fs.StringVar(&c.TokenFile, "token-file", c.TokenFile, "file holding the cluster token that API writes and joins must present (required)")
	tlsFlagVars(fs, &c.TLSCert, &c.TLSKey, &c.TLSCA, &c.InsecurePlaintext)
	fs.StringVar(&c.MonitorAddr, "monitor-addr", c.MonitorAddr, "host:port of a plain-HTTP listener serving only GET /v1/leader and /healthz, for load balancers (default: none)")
	fs.StringVar(&c.UIAddr, "ui-addr", c.UIAddr, "host:port of a plain-HTTP listener serving the read-only status page (default: none)")
	fs.StringVar(&c.UITokenFile, "ui-token-file", c.UITokenFile, "file holding a read-only token the status page asks for (not the cluster token; default: the page is open)")
	fs.StringVar(&c.Timing, "timing", c.Timing, "Raft timing profile: fast, lan or wan")
	fs.Var(&c.Heartbeat, "heartbeat", "Raft heartbeat timeout (overrides the profile)")
	fs.Var(&c.Election, "election", "Raft election timeout (overrides the profile)")
	fs.Var(&c.LeaderLease, "leader-lease", "how long the leader holds the VIPs after its last quorum proof; at most the heartbeat timeout minus max(heartbeat/4, 10ms) (overrides the profile)")
	fs.Var(&c.VIPLease, "vip-lease", "kernel lifetime (valid_lft) of a bound VIP, renewed while leader; whole seconds")
	fs.IntVar(&c.GARPCount, "garp-count", c.GARPCount, "announcements (gratuitous ARP / unsolicited NA) per burst")
	fs.Var(&c.GARPInterval, "garp-interval", "gap between announcements in a burst")
	fs.Var(&c.GARPRepeat, "garp-repeat", "delay of the second burst after takeover")
	fs.Var(&c.GARPRefresh, "garp-refresh", "re-announce held VIPs this often (0 = never); switches age MAC entries in about 300s")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "text or json")
	haFlags(fs, &c.HA)
	return fs
}

// parseAgentConfig merges flags > environment > config file > defaults.
// getenv is os.Getenv in production; tests pass a map.
func parseAgentConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	// The first pass only learns which flags were given and where the config
	// file is; the values themselves are applied last so that they win.
	scratch := defaultConfig()
	first := agentFlags(&scratch)
	first.SetOutput(stderr)
	if err := first.Parse(args); err != nil {
		return Config{}, usageError(err)
	}
	if first.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, first.Arg(0))
	}
	given := map[string]bool{}
	first.Visit(func(f *flag.Flag) { given[f.Name] = true })

	cfg := defaultConfig()
	path := first.Lookup("config").Value.String()
	if path == "" && !given["config"] {
		path = getenv(envPrefix + "CONFIG")
	}
	if path != "" {
		if err := loadConfigFile(path, &cfg); err != nil {
			return Config{}, err
		}
	}
	final := agentFlags(&cfg)
	final.SetOutput(io.Discard)
	var envErr error
	final.VisitAll(func(f *flag.Flag) {
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && !given[f.Name] && f.Name != "config" && envErr == nil {
			resetList(&cfg, f.Name)
			if err := final.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return Config{}, envErr
	}
	for name := range given {
		resetList(&cfg, name)
	}
	if err := final.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	// The host peers dial, not a wildcard -raft-addr: the API address is
	// recorded for other members to forward writes to.
	if cfg.HTTPAddr == "" && cfg.RaftAddr != "" {
		if host, _, err := net.SplitHostPort(cfg.Advertised()); err == nil {
			cfg.HTTPAddr = net.JoinHostPort(host, "8080")
		}
	}
	return cfg, nil
}

// usageError maps a flag parse error: -h is not a failure.
func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return errHelp
	}
	return fmt.Errorf("%w: %w", errUsage, err)
}

// resetList empties the repeatable flag name, if it is one, so that a value
// from a higher source replaces, not extends, what a lower one said.
func resetList(c *Config, name string) {
	switch name {
	case "join":
		c.Join = nil
	case "vip":
		c.VIPs = nil
	}
}

func loadConfigFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	// A second document ("---") would otherwise be ignored without a word.
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: more than one YAML document: put every key in one", path)
	}
	return nil
}

// tlsFlagVars binds the TLS flags, the same for the agent and the client
// commands.
func tlsFlagVars(fs *flag.FlagSet, cert, key, ca *string, insecure *bool) {
	fs.StringVar(cert, "tls-cert", *cert, "this node's (or operator's) certificate, PEM, from raftvip tls cert")
	fs.StringVar(key, "tls-key", *key, "its private key, PEM (keep it 0600)")
	fs.StringVar(ca, "tls-ca", *ca, "the cluster CA certificate, PEM (ca.pem of raftvip tls init)")
	fs.BoolVar(insecure, "insecure-plaintext", *insecure, "run without TLS: Raft and API traffic unauthenticated and unencrypted")
}

func haFlags(fs *flag.FlagSet, c *agent.HA) {
	fs.IntVar(&c.Priority, "priority", c.Priority, "preference as leader, 1-255; see -preempt")
	fs.BoolVar(&c.Preempt, "preempt", c.Preempt, "let a healthy node of higher priority take leadership over (set it alike on every node)")
	fs.Var(&c.PreemptDelay, "preempt-delay", "how long a node of higher priority must have been ready before it preempts")
	fs.StringVar(&c.NotifyMaster, "notify-master", c.NotifyMaster, "command (run by /bin/sh -c) when this node starts holding the VIPs")
	fs.StringVar(&c.NotifyBackup, "notify-backup", c.NotifyBackup, "command when this node stops holding the VIPs")
	fs.StringVar(&c.NotifyFault, "notify-fault", c.NotifyFault, "command when this node's health checks start failing")
	fs.StringVar(&c.NotifyStop, "notify-stop", c.NotifyStop, "command when the agent stops")
	fs.Var(&c.NotifyTimeout, "notify-timeout", "a notify command still running after this is killed")
}

// listFlag is the repeatable, comma-separated flag of the client commands
// and of tls cert.
type listFlag = agent.List
