// Command bench runs failover scenarios against raftvip, and against
// keepalived as a baseline, in the network-namespace lab, and writes the
// figures to results.json, results.md and one SVG timeline per scenario
// (docs/benchmarks.md explains the method). It needs root; it touches nothing
// outside the namespaces it creates, and every process it starts runs in a
// lab that kills it, with its process group, when the run ends.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
	"github.com/raftvip/raftvip/e2e/internal/lab"
	"github.com/raftvip/raftvip/e2e/internal/rig"
)

// config is the command line.
type config struct {
	runs       int
	scenarios  []string
	timing     []string
	keepalived bool
	transports []string // "tls", "plaintext"
	topologies []string // "three", "pair"
	nodes      []int    // sizes of the three topology
	vips       int      // VIPs of the failovers, 0 for each scenario's own count
	out        string
	bin        string
	idle       time.Duration
	stability  time.Duration
	disturb    time.Duration
	verbose    bool
	command    string
}

func parse(args []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var c config
	var scen, timing, transport, topology, nodes string
	fs.IntVar(&c.runs, "runs", 10, "runs per scenario and system")
	fs.StringVar(&scen, "scenarios", strings.Join(failoverNames(), ","),
		"comma list of scenarios (also: restart-follower, freeze-follower, freeze-leader-short)")
	fs.StringVar(&timing, "timing", "lan,fast", "comma list of raftvip timing profiles")
	fs.BoolVar(&c.keepalived, "keepalived", true, "run the keepalived baseline (default and tuned) too")
	fs.StringVar(&transport, "transport", "tls", "comma list: tls (mutual TLS, as deployed) and/or plaintext (-insecure-plaintext), to measure what TLS costs")
	fs.StringVar(&topology, "topology", three, "comma list: three (-nodes VIP hosts, three by default) and/or pair (two VIP hosts and a routed witness; keepalived as a MASTER/BACKUP pair)")
	fs.StringVar(&nodes, "nodes", "3", "comma list of cluster sizes for -topology three (e.g. 3,5,7); sizes but 3 label their profiles lan-5n, default-5n ...")
	fs.IntVar(&c.vips, "vips", 0, fmt.Sprintf("VIPs the cluster holds in hostdown, partition, sigkill, sigstop and sigterm (0: one; up to %d): "+
		"the spare IPv4 addresses of 192.0.2.0/24 first, then IPv6; labels the scenarios hostdown-1024vips ...", maxVIPs))
	fs.StringVar(&c.out, "out", "bin/bench", "directory for results.json, results.md, the SVGs and the run logs")
	fs.StringVar(&c.bin, "bin", "", "raftvip binary (default: build it)")
	fs.DurationVar(&c.idle, "idle", 60*time.Second, "idle window for the CPU and RSS figures (0: skip)")
	fs.DurationVar(&c.stability, "stability", 0, "watch an idle cluster under a CPU hog this long per profile (0: skip)")
	fs.DurationVar(&c.disturb, "disturb", 0, "run a cluster this long per profile under CPU hogs while followers are restarted and frozen (0: skip; documented run: 10m)")
	fs.BoolVar(&c.verbose, "v", false, "print the lab's own log lines")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.scenarios, c.timing, c.transports, c.topologies = split(scen), split(timing), split(transport), split(topology)
	if err := checkTopologies(c.topologies); err != nil {
		return c, err
	}
	var err error
	if c.nodes, err = checkNodes(split(nodes), c.topologies); err != nil {
		return c, err
	}
	if c.vips < 0 || c.vips > maxVIPs {
		return c, fmt.Errorf("-vips %d: want 0 (each scenario's own count) to %d", c.vips, maxVIPs)
	}
	for _, t := range c.transports {
		if t != "tls" && t != "plaintext" {
			return c, fmt.Errorf("-transport: unknown %q (known: tls, plaintext)", t)
		}
	}
	for _, s := range c.scenarios {
		if _, ok := scenarioByName(s); !ok {
			return c, fmt.Errorf("-scenarios: unknown %q (known: %s)", s, strings.Join(scenarioNames(), ", "))
		}
	}
	for _, p := range c.timing {
		if !slices.Contains([]string{"lan", "fast", "wan"}, p) {
			return c, fmt.Errorf("-timing: unknown profile %q (want lan, fast or wan)", p)
		}
	}
	if c.disturb != 0 && c.disturb <= restartEvery {
		return c, fmt.Errorf("-disturb %v: want 0 (skip) or longer than the restart period %v", c.disturb, restartEvery)
	}
	if c.runs < 1 {
		return c, fmt.Errorf("-runs %d: want 1 or more", c.runs)
	}
	c.command = "bench " + strings.Join(args, " ")
	return c, nil
}

func split(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	cfg, err := parse(os.Args[1:])
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root to build network namespaces (try: sudo make bench)")
		os.Exit(1)
	}
	// No signal.NotifyContext here: the lab catches SIGINT/SIGTERM itself,
	// kills the processes of the open lab and removes its namespaces.
	if err := run(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// benchRun is one invocation: its configuration, binaries and results so far.
type benchRun struct {
	cfg       config
	w         io.Writer
	bin       string
	responder string
	shapes    []shape
	systems   []spec
	res       bench.Results
	timelines map[string]*timeline
	// disturbTimelines has the timeline of each disturbance run.
	disturbTimelines []bench.Group
}

// timeline is the first run of each system in one scenario, for its SVG.
type timeline struct {
	about  string
	groups []bench.Group
}

func run(ctx context.Context, w io.Writer, cfg config) error {
	b := &benchRun{cfg: cfg, w: w, timelines: map[string]*timeline{}}
	if err := b.prepare(ctx); err != nil {
		return err
	}
	for _, name := range cfg.scenarios {
		sc, _ := scenarioByName(name)
		b.scenario(ctx, sc.withVIPs(cfg.vips))
		if err := b.write(); err != nil {
			return err
		}
	}
	if cfg.idle > 0 {
		for _, s := range b.systems {
			b.res.Resources = append(b.res.Resources, b.resources(ctx, s)...)
		}
	}
	if cfg.stability > 0 {
		for _, s := range b.systems {
			b.res.Stability = append(b.res.Stability, b.stable(ctx, s))
		}
	}
	if cfg.disturb > 0 {
		for _, s := range b.systems {
			d, g := b.disturbed(ctx, s)
			b.res.Disturbance = append(b.res.Disturbance, d)
			if g != nil {
				b.disturbTimelines = append(b.disturbTimelines, *g)
			}
			if err := b.write(); err != nil { // each run is long: keep what is done
				return err
			}
		}
	}
	if err := b.write(); err != nil {
		return err
	}
	b.say("\nresults in %s (results.md, results.json, *.svg; run logs in %s)", cfg.out, filepath.Join(cfg.out, "logs"))
	return nil
}

func (b *benchRun) say(format string, a ...any) { fmt.Fprintf(b.w, format+"\n", a...) }

// prepare builds the binaries and picks the systems to compare.
func (b *benchRun) prepare(ctx context.Context) error {
	binDir := filepath.Join(b.cfg.out, "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	var err error
	b.bin = b.cfg.bin
	if b.bin == "" {
		if b.bin, err = rig.Build(ctx, binDir); err != nil {
			return err
		}
	}
	// The agents run with the lab's working directory: absolute paths only.
	if b.bin, err = filepath.Abs(b.bin); err != nil {
		return err
	}
	// The responder answers on every node with its name; built once for all
	// the labs of the bench.
	if b.responder, err = lab.BuildResponder(ctx, binDir); err != nil {
		return err
	}
	b.shapes = shapes(b.cfg.topologies, b.cfg.nodes)
	for _, sh := range b.shapes {
		for _, t := range b.cfg.transports {
			for _, p := range b.cfg.timing {
				b.systems = append(b.systems, raftvipSpec(p, b.bin, t == "plaintext", sh))
			}
		}
	}
	if slices.Contains(b.cfg.topologies, pair) {
		b.res.Notes = append(b.res.Notes, pairNote)
	}
	if n := sizeNote(b.cfg.nodes); n != "" {
		b.res.Notes = append(b.res.Notes, n)
	}
	if b.cfg.vips > 0 {
		b.res.Notes = append(b.res.Notes, vipsNote(b.cfg.vips))
	}
	kversion := "not run (-keepalived=false)"
	if b.cfg.keepalived {
		v, err := keepalivedVersion(ctx)
		if err != nil {
			kversion = "not run: " + err.Error()
			b.res.Notes = append(b.res.Notes, "keepalived baseline not run: "+err.Error()+
				" (install it with `apt-get install -y keepalived`; check `apt-cache policy keepalived` first)")
			b.say("keepalived: %v; running raftvip only", err)
		} else {
			kversion = v
			for _, sh := range b.shapes {
				b.systems = append(b.systems, keepalivedSpec("default", sh), keepalivedSpec("tuned", sh))
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	b.res.Started = time.Now()
	b.res.Command = b.cfg.command
	b.res.Machine = bench.Machine{CPUs: runtime.NumCPU(), Kernel: strings.TrimSpace(string(kernel)), Keepalived: kversion, ProbeMs: 10}
	b.say("bench: %d runs of %s on %s", b.cfg.runs, strings.Join(b.cfg.scenarios, ", "), specNames(b.systems))
	return nil
}

// scenario runs sc for every run index and system, systems interleaved so
// that the runs compared against each other ran back to back.
func (b *benchRun) scenario(ctx context.Context, sc scenario) {
	b.say("\n== %s: %s", sc.name, sc.about)
	for i := range b.cfg.runs {
		for _, s := range b.systems {
			r, g := b.failover(ctx, s, sc, i)
			b.res.Runs = append(b.res.Runs, r)
			b.say("  %s", runLine(r))
			if g != nil {
				b.addTimeline(sc, s, *g)
			}
		}
	}
}

// addTimeline keeps g if it is the first run of s in sc.
func (b *benchRun) addTimeline(sc scenario, s spec, g bench.Group) {
	tl := b.timelines[sc.name]
	if tl == nil {
		tl = &timeline{about: sc.about}
		b.timelines[sc.name] = tl
	}
	for _, have := range tl.groups {
		if have.Title == s.title() {
			return
		}
	}
	tl.groups = append(tl.groups, g)
}

func runLine(r bench.Run) string {
	if r.Err != "" {
		return fmt.Sprintf("%-10s %-7s run %d: error: %s", r.System, r.Profile, r.Index, r.Err)
	}
	s := fmt.Sprintf("%-10s %-7s run %d: %s → %s: outage %.0f ms, takeover %.0f ms, dual holder %.0f ms, flaps %d",
		r.System, r.Profile, r.Index, r.Victim, r.Taker, r.OutageMs, r.TakeoverMs, r.DualHolderMs, r.Flaps)
	if d := r.Daemon; d != nil {
		s += fmt.Sprintf("; log: elected %.0f, claimed %.0f, %d bound by %.0f, %d announced by %.0f ms",
			d.ElectedMs, d.ClaimedMs, d.Bound, d.LastBoundMs, d.Announced, d.LastAnnouncedMs)
	}
	return s
}

// labFor builds the lab of s, whose logs stay in dir.
func (b *benchRun) labFor(ctx context.Context, s spec, dir string) (*lab.Lab, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logf := func(string, ...any) {}
	if b.cfg.verbose {
		logf = func(f string, a ...any) { b.say("    lab: "+f, a...) }
	}
	opts := s.lab
	opts.Dir, opts.Responder, opts.Logf = dir, b.responder, logf
	return lab.New(ctx, opts)
}

// closeLab closes l and removes the bulky raft data dirs, keeping the logs
// and configs as evidence.
func closeLab(l *lab.Lab) error {
	err := l.Close()
	dirs, _ := filepath.Glob(filepath.Join(l.Dir(), "data-*"))
	for _, d := range dirs {
		os.RemoveAll(d)
	}
	return err
}
