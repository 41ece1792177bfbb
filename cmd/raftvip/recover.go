package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/raftvip/raftvip/cluster"
)

// runRecover is `raftvip recover`: with the agent stopped, it replaces the
// Raft configuration in the node's data dir with the members given, keeping
// the data (cluster.Recover). It is the way out of a quorum lost for good
// (docs/operations.md, "When quorum is lost").
func runRecover(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "the agent's YAML config file: its id, raft-addr, raft-advertise and data-dir keys are used")
	fs.String("data-dir", defaultConfig().DataDir, "the agent's data dir")
	fs.String("id", "", "this node's ID (default: the config's, else the host name)")
	fs.String("raft-addr", "", "this node's Raft address (default: the config's)")
	fs.String("raft-advertise", "", "this node's advertised Raft address (default: the config's)")
	var members listFlag
	fs.Var(&members, "members", "the members of the recovered cluster, id=raft-address, comma-separated; this node among them (required)")
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	if len(members) == 0 {
		return fmt.Errorf("%w: -members is required, e.g. -members n1=192.0.2.11:7000", errUsage)
	}
	peers, err := parseMembers(members)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	// The agent's own merge of config file, environment and flags, so that
	// recover works on the same data dir and identity as the agent.
	var agentArgs []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "members" {
			agentArgs = append(agentArgs, "-"+f.Name, f.Value.String())
		}
	})
	cfg, err := parseAgentConfig(agentArgs, getenv, io.Discard)
	if err != nil {
		return err
	}
	if cfg.RaftAddr == "" {
		return fmt.Errorf("%w: this node's Raft address is unknown: give -config or -raft-addr", errUsage)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	self := cluster.Peer{ID: cfg.ID, RaftAddr: cfg.Advertised()}
	got, err := cluster.Recover(cfg.DataDir, self, peers, log)
	if errors.Is(err, cluster.ErrDataDirInUse) {
		return fmt.Errorf("refusing: an agent still runs on %s; stop it first (systemctl stop raftvip): %w", cfg.DataDir, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "recovered %s: the voters were %s, they are now %s\n", cfg.DataDir,
		strings.Join(got.Before, " "), strings.Join(got.After, " "))
	fmt.Fprintf(stdout, "kept the state up to index %d (term %d): %d VIPs %s\n", got.Index, got.Term,
		len(got.State.VIPs), strings.Join(strs(got.State.VIPs), " "))
	fmt.Fprintf(stdout, "start the agent on every member listed; a majority of %s elects a leader, which claims the VIPs\n",
		strings.Join(got.After, " "))
	return nil
}

// parseMembers reads id=raft-address values.
func parseMembers(vals []string) ([]cluster.Peer, error) {
	var out []cluster.Peer
	for _, v := range vals {
		id, addr, ok := strings.Cut(v, "=")
		if !ok || id == "" || addr == "" {
			return nil, fmt.Errorf("-members %q: want id=raft-address", v)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("-members %q: want id=host:port", v)
		}
		out = append(out, cluster.Peer{ID: id, RaftAddr: addr})
	}
	return out, nil
}
