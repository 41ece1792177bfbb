package cluster

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// repeatWindow is how often one repeated raft warning or error is written
// per peer. Raft retries a peer it cannot reach every few tens of
// milliseconds and logs each failure at ERROR: one member down made a leader
// write about ten lines a second. One line per window, with the count of the
// ones left out, says the same.
const repeatWindow = 10 * time.Second

// repeatMaxKeys bounds the limiter's memory: past it, quiet keys are forgotten.
const repeatMaxKeys = 256

// peerKeys are the raft log attributes that name the peer a record is about.
var peerKeys = []string{"peer", "server-id", "candidate", "id", "from"}

// repeats rate-limits repeated warnings and errors per message and peer. It
// is shared by every logger derived from one NewHCLogger.
type repeats struct {
	mu   sync.Mutex
	seen map[string]*repeat
}

type repeat struct {
	since      time.Time // when the last written line went out
	suppressed int       // lines left out since
}

// admit reports whether a record with key, at now, is written; when it is,
// more is how many were left out since the last one written, at since.
func (r *repeats) admit(key string, now time.Time) (ok bool, more int, since time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]*repeat{}
	}
	e := r.seen[key]
	if e != nil && now.Sub(e.since) < repeatWindow {
		e.suppressed++
		return false, 0, time.Time{}
	}
	if e != nil {
		more, since = e.suppressed, e.since
	}
	if len(r.seen) >= repeatMaxKeys {
		r.forget(now)
	}
	r.seen[key] = &repeat{since: now}
	return true, more, since
}

// forget drops keys that have been quiet for a window: their next line is
// written anyway.
func (r *repeats) forget(now time.Time) {
	for k, e := range r.seen {
		if now.Sub(e.since) >= repeatWindow {
			delete(r.seen, k)
		}
	}
}

// repeatKey is the message and the peer a record is about, or "" for records
// that are not limited (below Warn).
func repeatKey(lv hclog.Level, msg string, args []any) string {
	if lv < hclog.Warn {
		return ""
	}
	var b strings.Builder
	b.WriteString(msg)
	for i := 0; i+1 < len(args); i += 2 {
		k, _ := args[i].(string)
		for _, pk := range peerKeys {
			if k == pk {
				fmt.Fprintf(&b, "\x00%s=%v", k, args[i+1])
			}
		}
	}
	return b.String()
}

// repeatNote is what a written line says of the lines left out before it.
func repeatNote(more int, since time.Time) string {
	if more == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d more since %s)", more, since.Format("15:04:05"))
}

// shutdownLevel demotes what raft's transport logs as errors when this node
// closes it: the connection a peer still uses fails with "transport
// shutdown" or a closed connection. Such a record says only that the node
// stops, which a clean stop must not report as an error.
func shutdownLevel(lv hclog.Level, args []any) hclog.Level {
	if lv != hclog.Error {
		return lv
	}
	for i := 1; i < len(args); i += 2 {
		err, ok := args[i].(error)
		if ok && (errors.Is(err, raft.ErrTransportShutdown) || errors.Is(err, raft.ErrRaftShutdown) ||
			errors.Is(err, net.ErrClosed)) {
			return hclog.Debug
		}
	}
	return lv
}
