package cluster

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// LevelTrace is the slog level hclog's Trace maps to: below Debug, so that
// raft's per-RPC chatter only shows when asked for explicitly.
const LevelTrace = slog.LevelDebug - 4

// hcLogger is an hclog.Logger that writes to an slog.Handler, so raft's logs
// come out in the daemon's format with the daemon's attributes.
type hcLogger struct {
	h       slog.Handler
	name    string
	implied []any
	// level is shared with every logger derived by Named/With, as hclog's
	// SetLevel contract asks ("should affect all related loggers").
	level *atomic.Int32
	// rep limits repeated warnings and errors; shared like level.
	rep *repeats
}

var _ hclog.Logger = (*hcLogger)(nil)

// NewHCLogger returns an hclog.Logger writing to h. The name, and the names
// added by Named, go out as the "logger" attribute; With adds attributes.
// The level defaults to Info: raft logs every heartbeat failure and RPC at
// Debug/Trace, which would drown the daemon's own logs. h still filters too.
func NewHCLogger(h slog.Handler, name string) hclog.Logger {
	lv := &atomic.Int32{}
	lv.Store(int32(hclog.Info))
	return &hcLogger{h: h, name: name, level: lv, rep: &repeats{}}
}

// slogLevel maps an hclog level to slog; NoLevel is logged as Info.
func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return LevelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (l *hcLogger) enabled(lv hclog.Level) bool {
	if lv == hclog.NoLevel {
		lv = hclog.Info
	}
	floor := hclog.Level(l.level.Load())
	if lv == hclog.Off || floor == hclog.Off || lv < floor {
		return false
	}
	return l.h.Enabled(context.Background(), slogLevel(lv))
}

// Log emits msg with args (alternating keys and values) at level lv. A
// warning or error repeated for the same peer is written once per
// repeatWindow, saying how many were left out; errors that only say this
// node's transport is closed are demoted to Debug.
func (l *hcLogger) Log(lv hclog.Level, msg string, args ...any) {
	lv = shutdownLevel(lv, args)
	if !l.enabled(lv) {
		return
	}
	now := time.Now()
	if key := repeatKey(lv, msg, args); key != "" {
		ok, more, since := l.rep.admit(key, now)
		if !ok {
			return
		}
		msg += repeatNote(more, since)
	}
	r := slog.NewRecord(now, slogLevel(lv), msg, 0)
	if l.name != "" {
		r.AddAttrs(slog.String("logger", l.name))
	}
	r.Add(args...)
	// A logger cannot report its own failure anywhere better; drop it.
	_ = l.h.Handle(context.Background(), r)
}

// Trace logs at LevelTrace.
func (l *hcLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }

// Debug logs at slog.LevelDebug.
func (l *hcLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }

// Info logs at slog.LevelInfo.
func (l *hcLogger) Info(msg string, args ...any) { l.Log(hclog.Info, msg, args...) }

// Warn logs at slog.LevelWarn.
func (l *hcLogger) Warn(msg string, args ...any) { l.Log(hclog.Warn, msg, args...) }

// Error logs at slog.LevelError.
func (l *hcLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

// IsTrace reports whether Trace would log.
func (l *hcLogger) IsTrace() bool { return l.enabled(hclog.Trace) }

// IsDebug reports whether Debug would log.
func (l *hcLogger) IsDebug() bool { return l.enabled(hclog.Debug) }

// IsInfo reports whether Info would log.
func (l *hcLogger) IsInfo() bool { return l.enabled(hclog.Info) }

// IsWarn reports whether Warn would log.
func (l *hcLogger) IsWarn() bool { return l.enabled(hclog.Warn) }

// IsError reports whether Error would log.
func (l *hcLogger) IsError() bool { return l.enabled(hclog.Error) }

// ImpliedArgs returns the key/value pairs added by With.
func (l *hcLogger) ImpliedArgs() []any { return slices.Clone(l.implied) }

// With returns a logger that adds args as attributes to every record.
func (l *hcLogger) With(args ...any) hclog.Logger {
	c := *l
	c.implied = append(slices.Clone(l.implied), args...)
	c.h = l.h.WithAttrs(argsToAttrs(args))
	return &c
}

// Name returns the logger's name.
func (l *hcLogger) Name() string { return l.name }

// Named returns a logger whose name is this one's with "."+name appended.
func (l *hcLogger) Named(name string) hclog.Logger {
	if l.name != "" {
		name = l.name + "." + name
	}
	return l.ResetNamed(name)
}

// ResetNamed returns a logger named name.
func (l *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *l
	c.name = name
	return &c
}

// SetLevel sets the level of this logger and of every logger derived from the
// same NewHCLogger call.
func (l *hcLogger) SetLevel(lv hclog.Level) { l.level.Store(int32(lv)) }

// GetLevel returns the current level.
func (l *hcLogger) GetLevel() hclog.Level { return hclog.Level(l.level.Load()) }

// StandardLogger returns a *log.Logger writing through this logger.
func (l *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

// StandardWriter returns an io.Writer that logs each line written to it.
func (l *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	if opts == nil {
		opts = &hclog.StandardLoggerOptions{}
	}
	return stdWriter{l: l, opts: *opts}
}

func argsToAttrs(args []any) []slog.Attr {
	r := slog.NewRecord(time.Time{}, 0, "", 0)
	r.Add(args...)
	out := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		out = append(out, a)
		return true
	})
	return out
}

// stdWriter adapts the stdlib log package: libraries that only take a
// *log.Logger still end up in slog.
type stdWriter struct {
	l    *hcLogger
	opts hclog.StandardLoggerOptions
}

func (w stdWriter) Write(p []byte) (int, error) {
	for line := range bytes.Lines(p) {
		msg := strings.TrimRight(string(line), "\r\n")
		lv := hclog.Info
		if w.opts.ForceLevel != hclog.NoLevel {
			lv, msg = w.opts.ForceLevel, trimLevel(msg)
		} else if w.opts.InferLevels {
			lv, msg = inferLevel(msg)
		}
		w.l.Log(lv, msg)
	}
	return len(p), nil
}

// levelPrefixes are the prefixes hclog's own standard writer understands.
func levelPrefixes() []struct {
	prefix string
	level  hclog.Level
} {
	return []struct {
		prefix string
		level  hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
	}
}

func inferLevel(msg string) (hclog.Level, string) {
	for _, p := range levelPrefixes() {
		if rest, ok := strings.CutPrefix(msg, p.prefix); ok {
			return p.level, strings.TrimSpace(rest)
		}
	}
	return hclog.Info, msg
}

func trimLevel(msg string) string {
	_, rest := inferLevel(msg)
	return rest
}
