package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// errUsage marks errors in the command line itself; main exits 2 for them.
var errUsage = errors.New("usage")

// envPrefix is the prefix of the environment fallbacks: -data-dir reads
// RAFTVIP_DATA_DIR when the flag is not given.
const envPrefix = "RAFTVIP_"

// Config is the agent's configuration after flags, environment, file and
// defaults have been merged (in that order of precedence).
type Config struct {
	ID            string   `yaml:"id"`
	RaftAddr      string   `yaml:"raft-addr"`
	RaftAdvertise string   `yaml:"raft-advertise"`
	HTTPAddr      string   `yaml:"http-addr"`
	DataDir       string   `yaml:"data-dir"`
	Bootstrap     bool     `yaml:"bootstrap"`
	Join          listFlag `yaml:"join"`
	JoinTimeout   duration `yaml:"join-timeout"`
	VIPs          listFlag `yaml:"vip"`
	Interface     string   `yaml:"interface"`
	TokenFile     string   `yaml:"token-file"`

	TLSCert           string `yaml:"tls-cert"`
	TLSKey            string `yaml:"tls-key"`
	TLSCA             string `yaml:"tls-ca"`
	InsecurePlaintext bool   `yaml:"insecure-plaintext"`
	MonitorAddr       string `yaml:"monitor-addr"`
	UIAddr            string `yaml:"ui-addr"`
	UITokenFile       string `yaml:"ui-token-file"`

	Timing      string   `yaml:"timing"`
	Heartbeat   duration `yaml:"heartbeat"`
	Election    duration `yaml:"election"`
	LeaderLease duration `yaml:"leader-lease"`
	VIPLease    duration `yaml:"vip-lease"`

	GARPCount    int      `yaml:"garp-count"`
	GARPInterval duration `yaml:"garp-interval"`
	GARPRepeat   duration `yaml:"garp-repeat"`
	GARPRefresh  duration `yaml:"garp-refresh"`

	LogLevel  string `yaml:"log-level"`
	LogFormat string `yaml:"log-format"`

	// Health checks, priority and notify hooks: config_ha.go.
	HA `yaml:",inline"`
}

func defaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		ID:           host,
		DataDir:      "/var/lib/raftvip",
		JoinTimeout:  duration(2 * time.Minute),
		Timing:       cluster.DefaultProfile,
		VIPLease:     duration(time.Second),
		GARPCount:    3,
		GARPInterval: duration(50 * time.Millisecond),
		GARPRepeat:   duration(2 * time.Second),
		LogLevel:     "info",
		LogFormat:    "text",
		HA:           defaultHA(),
	}
}

// agentFlags binds every agent flag to a field of c.
func agentFlags(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.String("config", "", "YAML config file; keys are the flag names (flags win over the file)")
	fs.StringVar(&c.ID, "id", c.ID, "unique node ID (default: the host name)")
	fs.StringVar(&c.RaftAddr, "raft-addr", c.RaftAddr, "host:port for Raft traffic between nodes (required)")
	fs.StringVar(&c.RaftAdvertise, "raft-advertise", c.RaftAdvertise, "host:port peers dial, when -raft-addr is a wildcard")
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "host:port of the HTTP API, dialed by peers (default: the Raft host peers dial, port 8080)")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the Raft log, stable store and snapshots")
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "create a new cluster with this node as its first member (ignored when the data dir has state)")
	fs.Var(&c.Join, "join", "comma-separated HTTP addresses of cluster members to join; retried until one answers")
	fs.Var(&c.JoinTimeout, "join-timeout", "give up joining after this long")
	fs.Var(&c.VIPs, "vip", "VIP in CIDR form, repeatable; seeds the VIP set of a new cluster")
	fs.StringVar(&c.Interface, "interface", c.Interface, "interface for the VIPs on this node (default: the one whose subnet contains the VIP)")
	fs.StringVar(&c.TokenFile, "token-file", c.TokenFile, "file holding the cluster token that API writes and joins must present (required)")
	tlsFlagVars(fs, &c.TLSCert, &c.TLSKey, &c.TLSCA, &c.InsecurePlaintext)
	fs.StringVar(&c.MonitorAddr, "monitor-addr", c.MonitorAddr, "host:port of a plain-HTTP listener serving only GET /v1/leader and /healthz, for load balancers (default: none)")
	fs.StringVar(&c.UIAddr, "ui-addr", c.UIAddr, "host:port of a plain-HTTP listener serving the read-only status page (default: none)")
	fs.StringVar(&c.UITokenFile, "ui-token-file", c.UITokenFile, "file holding a read-only token the status page asks for (not the cluster token; default: the page is open)")
	fs.StringVar(&c.Timing, "timing", c.Timing, "Raft timing profile: fast, lan or wan")
	fs.Var(&c.Heartbeat, "heartbeat", "Raft heartbeat timeout (overrides the profile)")
	fs.Var(&c.Election, "election", "Raft election timeout (overrides the profile)")
	fs.Var(&c.LeaderLease, "leader-lease", "Raft leader lease timeout (overrides the profile)")
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
		if host, _, err := net.SplitHostPort(advertised(cfg)); err == nil {
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

// Validate names the first bad field and its value. Checks that need the
// kernel (does the interface exist) are done by the agent at start.
func (c Config) Validate() error {
	// The API's rule, so that the node's own join is not refused later.
	if err := fsm.ValidateNodeID("-id", c.ID); err != nil {
		return err
	}
	if c.RaftAddr == "" {
		return errors.New("-raft-addr is required (host:port for Raft traffic)")
	}
	if err := checkHostPort("-raft-addr", c.RaftAddr); err != nil {
		return err
	}
	if c.RaftAdvertise != "" {
		if err := checkHostPort("-raft-advertise", c.RaftAdvertise); err != nil {
			return err
		}
	}
	if wildcard(advertised(c)) {
		return fmt.Errorf("-raft-addr %q is a wildcard address that peers cannot dial: set -raft-advertise", c.RaftAddr)
	}
	if err := checkHostPort("-http-addr", c.HTTPAddr); err != nil {
		return err
	}
	if wildcard(c.HTTPAddr) {
		// It is also the API address the members record: a follower would
		// forward writes to itself.
		return fmt.Errorf("-http-addr %q is a wildcard address that peers cannot dial: give this node's own address", c.HTTPAddr)
	}
	if c.DataDir == "" {
		return errors.New("-data-dir is required")
	}
	if c.TokenFile == "" {
		return errors.New("-token-file is required: API writes and joins must present the cluster token")
	}
	if err := c.tlsFiles().validate(); err != nil {
		return err
	}
	if c.MonitorAddr != "" {
		if err := checkHostPort("-monitor-addr", c.MonitorAddr); err != nil {
			return err
		}
		if c.MonitorAddr == c.HTTPAddr {
			return fmt.Errorf("-monitor-addr %s is -http-addr: the monitor needs a port of its own", c.MonitorAddr)
		}
	}
	if err := c.validateUI(); err != nil {
		return err
	}
	if c.Bootstrap && len(c.Join) > 0 {
		return errors.New("-bootstrap and -join exclude each other: bootstrap the first node, join the others")
	}
	for _, j := range c.Join {
		if err := checkHostPort("-join", j); err != nil {
			return err
		}
	}
	if _, err := c.SeedVIPs(); err != nil {
		return err
	}
	if _, err := c.RaftTiming(); err != nil {
		return err
	}
	return c.validateAnnounce()
}

func (c Config) validateAnnounce() error {
	lease := time.Duration(c.VIPLease)
	if lease < time.Second || lease%time.Second != 0 {
		return fmt.Errorf("-vip-lease %s: the kernel counts address lifetimes in whole seconds, want 1s or more", lease)
	}
	if c.GARPCount < 1 || c.GARPCount > 100 {
		return fmt.Errorf("-garp-count %d: want 1 to 100", c.GARPCount)
	}
	if c.GARPInterval < 0 || c.GARPRepeat < 0 || c.GARPRefresh < 0 {
		return errors.New("-garp-interval, -garp-repeat and -garp-refresh must not be negative")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("-log-format %q: want text or json", c.LogFormat)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	return c.HA.validate()
}

func (c Config) tlsFiles() tlsFiles {
	return tlsFiles{cert: c.TLSCert, key: c.TLSKey, ca: c.TLSCA, insecure: c.InsecurePlaintext}
}

// tlsFlagVars binds the TLS flags, the same for the agent and the client
// commands.
func tlsFlagVars(fs *flag.FlagSet, cert, key, ca *string, insecure *bool) {
	fs.StringVar(cert, "tls-cert", *cert, "this node's (or operator's) certificate, PEM, from raftvip tls cert")
	fs.StringVar(key, "tls-key", *key, "its private key, PEM (keep it 0600)")
	fs.StringVar(ca, "tls-ca", *ca, "the cluster CA certificate, PEM (ca.pem of raftvip tls init)")
	fs.BoolVar(insecure, "insecure-plaintext", *insecure, "run without TLS: Raft and API traffic unauthenticated and unencrypted")
}

// SeedVIPs parses the -vip values.
func (c Config) SeedVIPs() ([]fsm.VIP, error) {
	var out []fsm.VIP
	for _, s := range c.VIPs {
		v, err := fsm.ParseVIP(s)
		if err != nil {
			return nil, fmt.Errorf("-vip: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// RaftTiming is the profile with explicit overrides applied, validated.
func (c Config) RaftTiming() (cluster.Timing, error) {
	t, err := cluster.Profile(c.Timing)
	if err != nil {
		return cluster.Timing{}, fmt.Errorf("-timing: %w", err)
	}
	if c.Heartbeat > 0 {
		t.Heartbeat = time.Duration(c.Heartbeat)
	}
	if c.Election > 0 {
		t.Election = time.Duration(c.Election)
	}
	if c.LeaderLease > 0 {
		t.LeaderLease = time.Duration(c.LeaderLease)
	}
	if err := t.Validate(); err != nil {
		return cluster.Timing{}, err
	}
	return t, nil
}

// checkHostPort checks the form only; an empty host is a wildcard, which
// Validate refuses where peers must dial the address.
func checkHostPort(flagName, s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%s %q: want host:port", flagName, s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%s %q: port must be 1-65535", flagName, s)
	}
	return nil
}

// wildcard reports whether hostport names no particular host (":7000",
// "0.0.0.0:7000", "[::]:7000"): fine to listen on, but not for peers to dial.
func wildcard(hostport string) bool {
	host, _, _ := net.SplitHostPort(hostport)
	ip, err := netip.ParseAddr(host)
	return host == "" || err == nil && ip.IsUnspecified()
}

// listFlag is a repeatable flag that also accepts comma-separated values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// UnmarshalYAML accepts a list or one comma-separated string.
func (l *listFlag) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return l.Set(n.Value)
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// duration is a time.Duration that reads "200ms" in flags and YAML.
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (want e.g. 200ms, 2s)", s)
	}
	*d = duration(v)
	return nil
}

// UnmarshalYAML reads a duration string such as "200ms".
func (d *duration) UnmarshalYAML(n *yaml.Node) error { return d.Set(n.Value) }
