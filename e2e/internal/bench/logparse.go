package bench

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"time"
)

// LogLine is one line of raftvip's text log (log/slog TextHandler):
// `time=2026-01-02T10:00:00.123+00:00 level=INFO msg="bound VIP" vip=...`.
type LogLine struct {
	At    time.Time
	Msg   string
	Attrs map[string]string
}

// ParseLog reads every slog text line of r; other lines (keepalived, a panic)
// are skipped.
func ParseLog(r io.Reader) ([]LogLine, error) {
	var out []LogLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024) // a -vip list can be long
	for sc.Scan() {
		if l, ok := ParseLogLine(sc.Text()); ok {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// ParseLogLine parses one slog text line; ok is false when it has no valid
// time= and msg=.
func ParseLogLine(line string) (LogLine, bool) {
	attrs := map[string]string{}
	for s := strings.TrimSpace(line); s != ""; s = strings.TrimLeft(s, " ") {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || strings.ContainsAny(s[:eq], " \"") {
			return LogLine{}, false
		}
		key := s[:eq]
		val, rest, ok := cutValue(s[eq+1:])
		if !ok {
			return LogLine{}, false
		}
		attrs[key], s = val, rest
	}
	at, err := time.Parse(time.RFC3339Nano, attrs["time"])
	msg, hasMsg := attrs["msg"]
	if err != nil || !hasMsg {
		return LogLine{}, false
	}
	delete(attrs, "time")
	delete(attrs, "msg")
	return LogLine{At: at, Msg: msg, Attrs: attrs}, true
}

// cutValue splits a value, quoted (Go syntax) or bare up to a space, from
// the rest of the line.
func cutValue(s string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		v, r, _ := strings.Cut(s, " ")
		return v, r, true
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			v, err := strconv.Unquote(s[:i+1])
			return v, s[i+1:], err == nil
		}
	}
	return "", "", false
}

// Log messages of raftvip that mark a takeover (cluster/leadership.go,
// netops/pass.go, netops/announce.go).
const (
	msgRaftState = "raft state"
	msgClaimed   = "claimed the VIPs"
	msgBound     = "bound VIP"
	msgAnnounce  = "announcing VIP"
)

// Takeover reads the takeover of the first leadership a node gained at or
// after fault from its log lines: the election, the committed claim, and the
// first bind and first announcement of each VIP in that term. ok is false when the node did
// not become leader after fault.
func Takeover(node string, lines []LogLine, fault time.Time) (DaemonTimes, bool) {
	d := DaemonTimes{Node: node, ElectedMs: -1, ClaimedMs: -1, FirstBoundMs: -1, LastBoundMs: -1, LastAnnouncedMs: -1}
	since := func(t time.Time) float64 { return MS(t.Sub(fault)) }
	var term string
	bound, announced := map[string]bool{}, map[string]bool{}
	for _, l := range lines {
		if l.At.Before(fault) {
			continue
		}
		if term == "" {
			if l.Msg == msgRaftState && l.Attrs["state"] == "Leader" {
				term, d.ElectedMs = l.Attrs["term"], since(l.At)
				d.Term, _ = strconv.ParseUint(term, 10, 64)
			}
			continue
		}
		if l.Attrs["term"] != term {
			continue
		}
		switch l.Msg {
		case msgClaimed:
			d.ClaimedMs = since(l.At)
		case msgBound:
			if d.FirstBoundMs < 0 {
				d.FirstBoundMs = since(l.At)
			}
			if vip := l.Attrs["vip"]; !bound[vip] {
				bound[vip] = true
				d.Bound++
				d.LastBoundMs = since(l.At)
			}
		case msgAnnounce:
			if vip := l.Attrs["vip"]; !announced[vip] {
				announced[vip] = true
				d.Announced++
				d.LastAnnouncedMs = since(l.At)
			}
		}
	}
	return d, term != ""
}
