package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/raftvip/raftvip/e2e/internal/bench"
)

// write (re)writes results.json, results.md and the SVGs from what has been
// measured so far, so an interrupted bench leaves its finished scenarios.
func (b *benchRun) write() error {
	b.res.Summary = bench.Summarise(b.res.Runs)
	b.res.Ratios = bench.Ratios(b.res.Runs, pairingsFor(b.shapes))
	b.res.Targets = bench.Evaluate(b.res.Summary, b.res.Resources, b.res.Stability)
	js, err := json.MarshalIndent(b.res, "", "  ")
	if err != nil {
		return fmt.Errorf("results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var md bytes.Buffer
	if err := bench.WriteMarkdown(&md, b.res); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "results.md"), md.Bytes(), 0o644); err != nil {
		return err
	}
	for name, tl := range b.timelines {
		if err := writeSVG(filepath.Join(b.cfg.out, name+".svg"), name, tl); err != nil {
			return err
		}
	}
	return nil
}

// svgBefore is how much of each run before the fault the timeline shows.
const svgBefore = 300 * time.Millisecond

func writeSVG(path, scenario string, tl *timeline) error {
	end := time.Second
	for _, g := range tl.groups {
		end = max(end, g.End)
	}
	var buf bytes.Buffer
	title := fmt.Sprintf("%s: %s (first run of each)", scenario, tl.about)
	if err := bench.WriteSVG(&buf, title, tl.groups, -svgBefore, end); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
