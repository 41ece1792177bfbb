package netopstest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
)

// Logs is a concurrency-safe log sink for tests that assert on what was logged,
// such as "this error is logged once, not on every tick".
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Logger returns a text logger at debug level that writes to l.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Write implements io.Writer.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Count returns how many records were logged with message msg.
func (l *Logs) Count(msg string) int {
	return strings.Count(l.String(), `msg="`+msg+`"`)
}
