package cluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

// A follower that is down makes raft log a failed heartbeat every few tens
// of milliseconds; the leader's log gets one line per peer and window, and
// the next one says how many were left out.
func TestRepeatedRaftErrorsAreLimitedPerPeer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		l := NewHCLogger(slog.NewJSONHandler(&buf, nil), "raft").Named("replication")
		start := time.Now()
		for time.Since(start) < 25*time.Second {
			l.Error("failed to heartbeat to", "peer", raft.ServerAddress("192.0.2.12:7000"), "backoff time",
				100*time.Millisecond, "error", fmt.Errorf("dial tcp: connection refused"))
			time.Sleep(100 * time.Millisecond)
		}
		l.Error("failed to heartbeat to", "peer", raft.ServerAddress("192.0.2.13:7000"), "error", "refused")
		l.Info("not limited")
		l.Info("not limited")
		var got []string
		for _, r := range records(t, &buf) {
			got = append(got, fmt.Sprint(r["level"], " ", r["msg"], " ", r["peer"]))
		}
		want := []string{
			"ERROR failed to heartbeat to 192.0.2.12:7000",
			"ERROR failed to heartbeat to (99 more since " + start.Format("15:04:05") + ") 192.0.2.12:7000",
			"ERROR failed to heartbeat to (99 more since " + start.Add(10*time.Second).Format("15:04:05") + ") 192.0.2.12:7000",
			"ERROR failed to heartbeat to 192.0.2.13:7000",
			"INFO not limited <nil>",
			"INFO not limited <nil>",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("log lines (-want +got):\n%s", diff)
		}
	})
}

func TestRepeatsForgetQuietKeys(t *testing.T) {
	var r repeats
	now := time.Now()
	for i := range repeatMaxKeys {
		r.admit(fmt.Sprint("k", i), now)
	}
	r.admit("late", now.Add(repeatWindow))
	if len(r.seen) != 1 {
		t.Fatalf("%d keys kept, want only the new one", len(r.seen))
	}
	if ok, _, _ := r.admit("late", now.Add(repeatWindow+time.Second)); ok {
		t.Error("a repeat within the window was admitted")
	}
}

// Stopping closes the transport under the connections peers still use;
// what raft says of them then is not an error.
func TestTransportShutdownIsNotAnError(t *testing.T) {
	var buf bytes.Buffer
	l := NewHCLogger(slog.NewJSONHandler(&buf, nil), "raft")
	l.Error("failed to decode incoming command", "error", raft.ErrTransportShutdown)
	l.Error("failed to accept connection", "error", fmt.Errorf("accept: %w", net.ErrClosed))
	l.Error("failed to appendEntries to", "peer", "n2", "error", fmt.Errorf("dial: connection refused"))
	out := buf.String()
	if strings.Count(out, `"level":"ERROR"`) != 1 || !strings.Contains(out, "connection refused") {
		t.Errorf("want only the refused connection at ERROR, got:\n%s", out)
	}
}
