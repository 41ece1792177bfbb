package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"time"
)

// Layout of the SVG, in pixels.
const (
	svgWidth   = 960
	svgLabelW  = 150 // left column with the row labels
	svgRight   = 20
	svgRowH    = 14
	svgRowGap  = 4
	svgTitleH  = 22
	svgGroupGp = 14
	svgTop     = 44 // title and legend
	svgAxisH   = 34
)

// nodeColours are colour-blind friendly colours for n1..n7: Okabe-Ito's
// for n1..n5, Paul Tol's wine and indigo for the larger clusters of -nodes.
var nodeColours = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#882255", "#332288"}

// NodeColour is the colour of node n in every plot (grey for unknown).
func NodeColour(n int) string {
	if n < 1 || n > len(nodeColours) {
		return "#999999"
	}
	return nodeColours[n-1]
}

// Labels are the words of a timeline that depend on what it shows.
type Labels struct {
	Marks string // what the dashed lines mean, in the legend
	Axis  string // what t=0 is, under the axis
}

// FailoverLabels are the words of a failover timeline: t=0 is the fault.
func FailoverLabels() Labels {
	return Labels{Marks: "red line = fault; purple = recovery (heal, SIGCONT)", Axis: "time since the fault"}
}

// WriteSVG draws the groups one under the other on a shared time axis (t=0
// is each group's fault, or what lb says), clipped to [from, to].
func WriteSVG(w io.Writer, title string, lb Labels, groups []Group, from, to time.Duration) error {
	if to <= from {
		to = from + time.Second
	}
	rows := 0
	for _, g := range groups {
		rows += 1 + len(g.Holders)
	}
	height := svgTop + len(groups)*(svgTitleH+svgGroupGp) + rows*(svgRowH+svgRowGap) + svgAxisH
	s := &svgWriter{w: w, from: from, to: to, labels: lb}
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.printf(`<text x="10" y="18" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(title))
	nodes := 3
	for _, g := range groups {
		nodes = max(nodes, len(g.Holders))
	}
	s.legend(nodes)
	y := svgTop
	for _, g := range groups {
		y = s.group(g, y)
	}
	s.axis(y, height)
	s.printf("</svg>\n")
	return s.err
}

type svgWriter struct {
	w        io.Writer
	from, to time.Duration
	labels   Labels
	err      error
}

func (s *svgWriter) printf(format string, a ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, a...)
	}
}

// x maps a time to a pixel column, clamped to the plot area.
func (s *svgWriter) x(t time.Duration) float64 {
	t = min(max(t, s.from), s.to)
	return svgLabelW + float64(t-s.from)/float64(s.to-s.from)*(svgWidth-svgLabelW-svgRight)
}

// legend names the colours of nodes 1 to nodes, and what the marks mean.
func (s *svgWriter) legend(nodes int) {
	x := 10
	s.printf(`<g font-size="11">`)
	for n := 1; n <= nodes; n++ {
		s.printf(`<rect x="%d" y="28" width="12" height="10" fill="%s"/><text x="%d" y="37">n%d</text>`, x, NodeColour(n), x+16, n)
		x += 50
	}
	s.printf(`<text x="%d" y="37">gap in "client" = no answer; %s</text></g>`+"\n", x, html.EscapeString(s.labels.Marks))
}

func (s *svgWriter) group(g Group, y int) int {
	s.printf(`<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+15, html.EscapeString(g.Title))
	y += svgTitleH
	top := y
	for _, lane := range append([]Lane{g.Client}, g.Holders...) {
		s.printf(`<text x="10" y="%d" font-size="11">%s</text>`, y+11, html.EscapeString(lane.Label))
		s.printf(`<rect x="%d" y="%d" width="%d" height="%d" fill="#f2f2f2"/>`, svgLabelW, y, svgWidth-svgLabelW-svgRight, svgRowH)
		for _, seg := range lane.Segs {
			if seg.To < s.from || seg.From > s.to {
				continue
			}
			x0, x1 := s.x(seg.From), s.x(seg.To)
			s.printf(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, x0, y, math.Max(x1-x0, 0.5), svgRowH, NodeColour(seg.Node))
		}
		s.printf("\n")
		y += svgRowH + svgRowGap
	}
	for i, m := range g.Marks {
		if m.At < s.from || m.At > s.to {
			continue
		}
		colour := "#D55E00"
		if i > 0 {
			colour = "#7B3294"
		}
		x := s.x(m.At)
		s.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="1.5" stroke-dasharray="4 2"/>`, x, top-4, x, y-svgRowGap, colour)
		s.printf(`<text x="%.1f" y="%d" font-size="10" fill="%s">%s</text>`+"\n", x+3, top-6, colour, html.EscapeString(m.Label))
	}
	return y + svgGroupGp
}

// axis draws the time axis with a tick every "nice" step.
func (s *svgWriter) axis(y, height int) {
	step := niceStep(s.to - s.from)
	s.printf(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", svgLabelW, y, svgWidth-svgRight, y)
	first := (s.from/step + 1) * step
	if s.from <= 0 && s.from%step == 0 {
		first = s.from
	}
	for t := first; t <= s.to; t += step {
		x := s.x(t)
		s.printf(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black"/><text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>`+"\n",
			x, y, x, y+4, x, y+16, formatTick(t))
	}
	s.printf(`<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>`+"\n", svgWidth-svgRight, height-4, html.EscapeString(s.labels.Axis))
}

// niceStep picks a tick step giving 5 to 12 ticks over span.
func niceStep(span time.Duration) time.Duration {
	for _, st := range []time.Duration{10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000} {
		if step := st * time.Millisecond; span/step <= 12 {
			return step
		}
	}
	return time.Minute
}

func formatTick(t time.Duration) string {
	if t%time.Second == 0 {
		return fmt.Sprintf("%ds", int(t/time.Second))
	}
	return fmt.Sprintf("%dms", t.Milliseconds())
}
