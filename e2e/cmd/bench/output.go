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
	b.res.Targets = append(bench.Evaluate(b.res.Summary, b.res.Resources, b.res.Stability), bench.DisturbanceTarget(b.res.Disturbance))
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
	if len(b.disturbTimelines) > 0 {
		return writeDisturbSVG(filepath.Join(b.cfg.out, "disturb.svg"), b.disturbTimelines)
	}
	return nil
}

// svgBefore is how much of each run before the fault the timeline shows.
const svgBefore = 300 * time.Millisecond

func writeSVG(path, scenario string, tl *timeline) error {
	title := fmt.Sprintf("%s: %s (first run of each)", scenario, tl.about)
	return writeTimeline(path, title, bench.FailoverLabels(), tl.groups, -svgBefore)
}

// writeDisturbSVG draws the disturbance runs from their start.
func writeDisturbSVG(path string, groups []bench.Group) error {
	title := "disturbance: CPU hogs, followers restarted and frozen (client gaps narrower than a pixel do not show)"
	return writeTimeline(path, title, disturbLabels(), groups, 0)
}

// writeTimeline draws groups from from to the end of the longest.
func writeTimeline(path, title string, lb bench.Labels, groups []bench.Group, from time.Duration) error {
	end := time.Second
	for _, g := range groups {
		end = max(end, g.End)
	}
	var buf bytes.Buffer
	if err := bench.WriteSVG(&buf, title, lb, groups, from, end); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
