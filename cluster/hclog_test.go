package cluster

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"
)

// records decodes the JSON lines slog wrote to buf.
func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad JSON %q: %v", line, err)
		}
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestHCLogLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: LevelTrace})
	l := NewHCLogger(h, "raft")
	if l.IsDebug() || !l.IsInfo() || l.GetLevel() != hclog.Info {
		t.Fatalf("default level: IsDebug=%v IsInfo=%v level=%v, want Info", l.IsDebug(), l.IsInfo(), l.GetLevel())
	}
	l.Debug("hidden by the default level")
	l.SetLevel(hclog.Trace)
	l.Trace("t")
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	l.Log(hclog.NoLevel, "n")
	var got []string
	for _, r := range records(t, &buf) {
		got = append(got, r["level"].(string)+" "+r["msg"].(string))
	}
	want := []string{"DEBUG-4 t", "DEBUG d", "INFO i", "WARN w", "ERROR e", "INFO n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}

	// The handler's own level still applies, and Off silences everything.
	buf.Reset()
	quiet := NewHCLogger(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}), "raft")
	quiet.Info("dropped by the handler")
	quiet.SetLevel(hclog.Off)
	quiet.Error("dropped by Off")
	if buf.Len() != 0 {
		t.Errorf("wrote %q, want nothing", buf.String())
	}
}

func TestHCLogNamedAndWith(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewHCLogger(slog.NewJSONHandler(&buf, nil), "raft")
	sub := l.Named("net").With("peer", "n2")
	sub.Warn("failed to contact", "elapsed", 3)
	l.Info("plain", "odd")
	if got := sub.Name(); got != "raft.net" {
		t.Errorf("Name = %q", got)
	}
	if diff := cmp.Diff([]any{"peer", "n2"}, sub.ImpliedArgs()); diff != "" {
		t.Errorf("ImpliedArgs (-want +got):\n%s", diff)
	}
	// SetLevel on a derived logger affects its relatives (hclog's contract).
	sub.SetLevel(hclog.Error)
	l.Warn("dropped")
	sub.ResetNamed("other").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[ERROR] from log")

	want := []map[string]any{
		{"level": "WARN", "msg": "failed to contact", "logger": "raft.net", "peer": "n2", "elapsed": float64(3)},
		{"level": "INFO", "msg": "plain", "logger": "raft", "!BADKEY": "odd"},
		{"level": "ERROR", "msg": "from log", "logger": "other", "peer": "n2"},
	}
	if diff := cmp.Diff(want, records(t, &buf)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
