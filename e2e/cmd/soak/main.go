// Command soak runs a raftvip cluster in the namespace lab for a long while
// and injects random faults into it, several at once when the schedule draws
// them (a nemesis, as in Jepsen or etcd's functional tester), while a client
// probes the VIP every 10 ms and every node's addresses are sampled every
// 10 ms. Everything is recorded as a history (JSON lines) that
// e2e/internal/history judges against raftvip's invariants; the report goes
// to -out as Markdown, JSON and an SVG timeline. It needs root, and touches
// nothing outside the namespaces the lab creates. See docs/reliability.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/history"
)

// config is the command line.
type config struct {
	bin      string
	nodes    int
	duration time.Duration
	seed     int64
	profile  string
	out      string
	quiet    time.Duration
	exclude  []string
	check    string
	skip     bool
	verbose  bool
}

func main() {
	var cfg config
	var exclude string
	flag.StringVar(&cfg.bin, "bin", "bin/raftvip", "raftvip binary (make build)")
	flag.IntVar(&cfg.nodes, "nodes", 3, "cluster size: 3 or 5")
	flag.DurationVar(&cfg.duration, "duration", 10*time.Minute, "how long to inject faults, quiet tail included")
	flag.Int64Var(&cfg.seed, "seed", 0, "seed of the fault schedule (0: a random one, printed)")
	flag.StringVar(&cfg.profile, "profile", "lan", "timing profile of the agents: lan or fast")
	flag.StringVar(&cfg.out, "out", "bin/soak", "directory for the history, the report and the node logs")
	flag.DurationVar(&cfg.quiet, "quiet", 15*time.Second, "fault-free tail before the final states are compared")
	flag.StringVar(&exclude, "exclude", "", "comma-separated fault kinds not to inject")
	flag.StringVar(&cfg.check, "check", "", "judge a recorded history.jsonl again and write its report to -out; runs nothing")
	flag.BoolVar(&cfg.skip, "skip-without-root", false, "exit 0 with a note when not root, unless CI=true")
	flag.BoolVar(&cfg.verbose, "v", false, "print the lab's log lines too")
	flag.Parse()
	if exclude != "" {
		cfg.exclude = strings.Split(exclude, ",")
	}
	os.Exit(execute(cfg))
}

// execute returns the exit status: 0 clean, 1 violations, 2 the soak could not run.
func execute(cfg config) int {
	if cfg.check != "" {
		return recheck(cfg)
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	if os.Geteuid() != 0 {
		if cfg.skip && os.Getenv("CI") != "true" {
			fmt.Println("soak: skipped: needs root to build network namespaces")
			return 0
		}
		fmt.Fprintln(os.Stderr, "soak: needs root to build network namespaces (CI=true or no -skip-without-root: failing)")
		return 2
	}
	if cfg.seed == 0 {
		cfg.seed = rand.Int64N(1<<31) + 1
	}
	fmt.Printf("soak: seed %d (replay the schedule with SEED=%d), %d nodes, profile %s, %v\n", cfg.seed, cfg.seed, cfg.nodes, cfg.profile, cfg.duration)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := soak(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	return verdict(os.Stdout, rep)
}

func (cfg config) validate() error {
	var errs []error
	if cfg.nodes != 3 && cfg.nodes != 5 {
		errs = append(errs, fmt.Errorf("-nodes %d: want 3 or 5", cfg.nodes))
	}
	if cfg.profile != "lan" && cfg.profile != "fast" {
		errs = append(errs, fmt.Errorf("-profile %q: want lan or fast", cfg.profile))
	}
	if cfg.duration < cfg.quiet+30*time.Second {
		errs = append(errs, fmt.Errorf("-duration %v: want at least the quiet tail (%v) plus 30s", cfg.duration, cfg.quiet))
	}
	for _, k := range cfg.exclude {
		if !slices.ContainsFunc(catalogue, func(f faultKind) bool { return f.name == k }) {
			errs = append(errs, fmt.Errorf("-exclude: no fault kind %q (kinds: %s)", k, kindNames()))
		}
	}
	return errors.Join(errs...)
}

// recheck judges a recorded history again.
func recheck(cfg config) int {
	f, err := os.Open(cfg.check)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	defer f.Close()
	evs, err := history.Read(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	rep := history.Check(evs, false)
	if err := writeReport(cfg.out, rep, evs, "soak -check "+cfg.check); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		return 2
	}
	return verdict(os.Stdout, rep)
}

// verdict prints one line per invariant and the count of violations, and
// returns the exit status.
func verdict(w io.Writer, rep history.Report) int {
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "\nVIOLATION of invariant %d at t=%.3fs: %s\n  %s\n", v.Invariant, v.At.Seconds(), v.What, strings.Join(v.Excerpt, "\n  "))
	}
	fmt.Fprintln(w)
	for _, v := range rep.Verdicts {
		fmt.Fprintln(w, v)
	}
	fmt.Fprintf(w, "violations: %d\n", len(rep.Violations))
	if len(rep.Violations) > 0 {
		return 1
	}
	return 0
}

// outPaths are the files a run writes under -out.
func outPaths(out string) (hist, logs string) {
	return filepath.Join(out, "history.jsonl"), filepath.Join(out, "logs")
}
