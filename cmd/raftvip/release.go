package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/agent"
	"github.com/raftvip/raftvip/netops"
	"github.com/vishvananda/netns"
)

// runRelease is `raftvip release`: it removes from this host's interfaces
// every VIP that the data dir says belongs to the cluster, as the agent does
// at start. Only addresses raftvip bound are removed (netops.Found.Ours, or a
// leftover of a version before the mark): a VIP equal to an address of the
// host's own is left in place, with a warning. It is meant for ExecStopPost=, after the agent stopped or crashed:
// a crashed agent's VIPs would otherwise stay bound until their kernel
// lifetime ran out. It never writes to the data dir.
func runRelease(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	cfg, err := parseReleaseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	vips, err := releaseTargets(cfg)
	if err != nil {
		return err
	}
	if len(vips) == 0 {
		fmt.Fprintf(stdout, "nothing to release: no VIP is known to %s or set by the config's vip key\n", cfg.DataDir)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	nl, err := netops.OpenNetlink(netns.None(), log)
	if err != nil {
		return err
	}
	defer nl.Close()
	return release(ctx, nl, agent.LinkNames, vips, cfg.Interface, stdout, log)
}

// parseReleaseConfig accepts -config, -data-dir and -interface, merged with
// the environment and the config file as for the agent, so that release reads
// the same data dir as the agent it cleans up after.
func parseReleaseConfig(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.String("config", "", "the agent's YAML config file: its data-dir, interface and vip keys are used")
	fs.String("data-dir", defaultConfig().DataDir, "the agent's data dir, opened read-only")
	fs.String("interface", "", "the agent's -interface, for VIPs without an interface of their own")
	if err := fs.Parse(args); err != nil {
		return Config{}, usageError(err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return parseAgentConfig(args, getenv, io.Discard)
}

// releaseTargets is every VIP the agent would remove at start: those the data
// dir knows of and the seeds of the config's vip key.
func releaseTargets(cfg Config) ([]fsm.VIP, error) {
	seeds, err := cfg.SeedVIPs()
	if err != nil {
		return nil, err
	}
	known, err := cluster.ReadKnownVIPs(cfg.DataDir)
	if errors.Is(err, cluster.ErrDataDirInUse) {
		return nil, fmt.Errorf("refusing: an agent still runs on %s and holds its VIPs; stop it first "+
			"(a stopping agent removes its VIPs itself): %w", cfg.DataDir, err)
	}
	if err != nil {
		return nil, err
	}
	return uniqueVIPs(append(known, seeds...)), nil
}

// uniqueVIPs drops repeats: a seed VIP is both in the data dir and in the
// config, and would otherwise be removed, and named, twice.
func uniqueVIPs(vs []fsm.VIP) []fsm.VIP {
	var out []fsm.VIP
	for _, v := range vs {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// release removes the leftovers of vips (agent.RemoveLeftovers, as the
// agent does at start) and says what it removed and what it left in place.
func release(ctx context.Context, b netops.Binder, links func() ([]string, error), vips []fsm.VIP, iface string,
	stdout io.Writer, log *slog.Logger) error {
	removed, err := agent.RemoveLeftovers(ctx, b, links, vips, iface, log)
	for _, p := range removed {
		fmt.Fprintf(stdout, "released %s\n", p)
	}
	if err != nil {
		return fmt.Errorf("release VIPs: %w", err)
	}
	// What is still there after the removal was not raftvip's (a VIP equal
	// to the host's own address): say so rather than "not configured".
	left, err := stillConfigured(ctx, b, links, vips)
	if err != nil {
		return fmt.Errorf("release VIPs: %w", err)
	}
	if msg := releaseSummary(vips, removed, left); msg != "" {
		fmt.Fprintln(stdout, msg)
	}
	return nil
}

// stillConfigured returns the addresses of vips that some link of this host
// has, as configured there.
func stillConfigured(ctx context.Context, b netops.Binder, links func() ([]string, error), vips []fsm.VIP) ([]netip.Prefix, error) {
	names, err := links()
	if err != nil {
		return nil, err
	}
	ls, err := b.Addrs(ctx)
	if err != nil {
		return nil, err
	}
	var left []netip.Prefix
	for _, link := range names {
		for _, f := range ls[link] {
			known := slices.ContainsFunc(vips, func(v fsm.VIP) bool { return v.Prefix.Addr() == f.Prefix.Addr() })
			if known && !slices.Contains(left, f.Prefix) {
				left = append(left, f.Prefix)
			}
		}
	}
	return left, nil
}

// releaseSummary is release's last line, "" when the "released" lines say
// it all: which known VIPs are on this host but were left in place (not
// added by raftvip), and whether the rest are configured at all.
func releaseSummary(vips []fsm.VIP, removed, left []netip.Prefix) string {
	var known []string
	for _, v := range vips {
		if s := v.Prefix.String(); !slices.Contains(known, s) {
			known = append(known, s)
		}
	}
	others := len(known) - len(removed) - len(left)
	switch {
	case len(left) == 0 && len(removed) > 0:
		return ""
	case len(left) == 0:
		return fmt.Sprintf("nothing to release: none of the known VIPs (%s) is configured on this host",
			strings.Join(known, ", "))
	}
	var msg string
	if len(removed) == 0 {
		msg = "nothing released: "
	}
	verb := "is"
	if len(left) > 1 {
		verb = "are"
	}
	msg += fmt.Sprintf("%s %s on this host but not added by raftvip (left in place)", strings.Join(strs(left), ", "), verb)
	if len(removed) == 0 && others > 0 {
		msg += "; the other known VIPs are not configured here"
	}
	return msg
}

// strs is the String of each of xs.
func strs[T fmt.Stringer](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.String()
	}
	return out
}
