package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
)

// Config is the agent's configuration after flags, environment, file and
// defaults have been merged (in that order of precedence).
type Config struct {
	ID            string `yaml:"id"`
	RaftAddr      string `yaml:"raft-addr"`
	RaftAdvertise string `yaml:"raft-advertise"`
	HTTPAddr      string `yaml:"http-addr"`
	DataDir       string `yaml:"data-dir"`
	Bootstrap     bool   `yaml:"bootstrap"`
	// BootstrapExpect forms a new cluster of this many nodes once all of
	// them, listed by Join, see each other (cluster.PlanStart).
	BootstrapExpect int      `yaml:"bootstrap-expect"`
	Join            List     `yaml:"join"`
	JoinTimeout     Duration `yaml:"join-timeout"`
	VIPs            List     `yaml:"vip"`
	Interface       string   `yaml:"interface"`
	TokenFile       string   `yaml:"token-file"`

	TLSCert           string `yaml:"tls-cert"`
	TLSKey            string `yaml:"tls-key"`
	TLSCA             string `yaml:"tls-ca"`
	InsecurePlaintext bool   `yaml:"insecure-plaintext"`
	MonitorAddr       string `yaml:"monitor-addr"`
	// UIAddr serves the read-only status page (internal/ui); UITokenFile
	// holds the token it asks for. ui.go.
	UIAddr      string `yaml:"ui-addr"`
	UITokenFile string `yaml:"ui-token-file"`

	Timing      string   `yaml:"timing"`
	Heartbeat   Duration `yaml:"heartbeat"`
	Election    Duration `yaml:"election"`
	LeaderLease Duration `yaml:"leader-lease"`
	VIPLease    Duration `yaml:"vip-lease"`

	GARPCount    int      `yaml:"garp-count"`
	GARPInterval Duration `yaml:"garp-interval"`
	GARPRepeat   Duration `yaml:"garp-repeat"`
	GARPRefresh  Duration `yaml:"garp-refresh"`

	LogLevel  string `yaml:"log-level"`
	LogFormat string `yaml:"log-format"`

	// Witness makes the node a voter that never holds the VIPs (witness.go).
	Witness bool `yaml:"witness"`

	// Health checks, priority and notify hooks: config_ha.go.
	HA `yaml:",inline"`
}

// DefaultConfig is the configuration before flags, environment and file
// are applied.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		ID:           host,
		DataDir:      "/var/lib/raftvip",
		JoinTimeout:  Duration(2 * time.Minute),
		Timing:       cluster.DefaultProfile,
		VIPLease:     Duration(time.Second),
		GARPCount:    3,
		GARPInterval: Duration(50 * time.Millisecond),
		GARPRepeat:   Duration(2 * time.Second),
		LogLevel:     "info",
		LogFormat:    "text",
		HA:           defaultHA(),
	}
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
	if err := c.validateWitness(); err != nil {
		return err
	}
	if err := checkHostPort("-raft-addr", c.RaftAddr); err != nil {
		return err
	}
	if c.RaftAdvertise != "" {
		if err := checkHostPort("-raft-advertise", c.RaftAdvertise); err != nil {
			return err
		}
	}
	if wildcard(c.Advertised()) {
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
	if err := c.TLSFiles().Validate(); err != nil {
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
	if c.BootstrapExpect < 0 || c.BootstrapExpect > len(c.Join)+1 {
		return fmt.Errorf("-bootstrap-expect %d: want 1 to %d, the nodes -join lists plus this one",
			c.BootstrapExpect, len(c.Join)+1)
	}
	if c.Bootstrap && c.BootstrapExpect > 0 {
		return errors.New("-bootstrap and -bootstrap-expect exclude each other: give every node the same -bootstrap-expect and -join instead")
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
	if _, err := ParseLevel(c.LogLevel); err != nil {
		return err
	}
	return c.HA.validate()
}

// TLSFiles returns the -tls-* and -insecure-plaintext settings of c.
func (c Config) TLSFiles() TLSFiles {
	return TLSFiles{Cert: c.TLSCert, Key: c.TLSKey, CA: c.TLSCA, Insecure: c.InsecurePlaintext}
}

// Advertised is the Raft address peers dial: -raft-advertise, or else
// -raft-addr.
func (c Config) Advertised() string {
	if c.RaftAdvertise != "" {
		return c.RaftAdvertise
	}
	return c.RaftAddr
}

// schedule is the announcement schedule of c.
func (c Config) schedule() netops.Schedule {
	return netops.Schedule{Burst: c.GARPCount, BurstGap: time.Duration(c.GARPInterval),
		Repeat: time.Duration(c.GARPRepeat), Refresh: time.Duration(c.GARPRefresh)}
}

// ParseLevel reads a -log-level value.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("-log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
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

// List is a repeatable flag that also accepts comma-separated values.
type List []string

// String implements flag.Value.
func (l *List) String() string { return strings.Join(*l, ",") }

// Set implements flag.Value: it appends the comma-separated values of s.
func (l *List) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// UnmarshalYAML accepts a list or one comma-separated string.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
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

// Duration is a time.Duration that reads "200ms" in flags and YAML.
type Duration time.Duration

// String implements flag.Value.
func (d *Duration) String() string { return time.Duration(*d).String() }

// Set implements flag.Value.
func (d *Duration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (want e.g. 200ms, 2s)", s)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML reads a duration string such as "200ms".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return d.Set(n.Value) }
