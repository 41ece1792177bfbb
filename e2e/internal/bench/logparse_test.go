package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLogLine(t *testing.T) {
	line := `time=2026-11-25T09:28:42.404Z level=INFO msg="bound VIP" component=reconciler vip=192.0.2.100/24 link=eth0 term=3 note="a \"quoted\" word"`
	got, ok := ParseLogLine(line)
	if !ok {
		t.Fatalf("ParseLogLine(%q) not ok", line)
	}
	want := LogLine{
		At:  time.Date(2026, 11, 25, 9, 28, 42, 404e6, time.UTC),
		Msg: "bound VIP",
		Attrs: map[string]string{"level": "INFO", "component": "reconciler", "vip": "192.0.2.100/24",
			"link": "eth0", "term": "3", "note": `a "quoted" word`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseLogLine (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		"",
		"Tue Nov 25 09:28:42 2026: (VI_1) Entering MASTER STATE", // keepalived
		`time=2026-11-25T09:28:42.404Z level=INFO msg="unterminated`,
		`level=INFO msg=x`, // no time
		`time=yesterday msg=x`,
	} {
		if _, ok := ParseLogLine(bad); ok {
			t.Errorf("ParseLogLine(%q) ok, want not", bad)
		}
	}
}

// n3Log is a new leader's log around a takeover, trimmed from a real run,
// with a second VIP and lines of an earlier term.
const n3Log = `time=2026-11-25T09:28:41.703Z level=INFO msg="raft state" component=cluster state=Follower term=2 leader=n1
time=2026-11-25T09:28:42.397Z level=INFO msg="raft state" component=cluster state=Candidate term=2 leader=""
time=2026-11-25T09:28:42.400Z level=INFO msg="raft state" component=cluster state=Leader term=3 leader=n3
time=2026-11-25T09:28:42.404Z level=INFO msg="claimed the VIPs" component=cluster term=3
time=2026-11-25T09:28:42.404Z level=INFO msg="bound VIP" component=reconciler vip=192.0.2.100/24 link=eth0 term=3 label=eth0:vip lifetime=1s
time=2026-11-25T09:28:42.405Z level=INFO msg="announcing VIP" component=reconciler vip=192.0.2.100/24 link=eth0 term=3 burst=3 gap=50ms
time=2026-11-25T09:28:42.406Z level=INFO msg="bound VIP" component=reconciler vip=192.0.2.101/24 link=eth0 term=3 label=eth0:vip lifetime=1s
time=2026-11-25T09:28:42.409Z level=INFO msg="announcing VIP" component=reconciler vip=192.0.2.101/24 link=eth0 term=3 burst=3 gap=50ms
Tue Nov 25 09:28:43 2026: not a raftvip line
time=2026-11-25T09:28:44.404Z level=INFO msg="announcing VIP" component=reconciler vip=192.0.2.100/24 link=eth0 term=3 burst=3 gap=50ms
`

func TestTakeover(t *testing.T) {
	lines, err := ParseLog(strings.NewReader(n3Log))
	if err != nil {
		t.Fatal(err)
	}
	fault := time.Date(2026, 11, 25, 9, 28, 42, 0, time.UTC)
	got, ok := Takeover("n3", lines, fault)
	if !ok {
		t.Fatal("Takeover: no leadership found")
	}
	want := DaemonTimes{Node: "n3", Term: 3, ElectedMs: 400, ClaimedMs: 404, FirstBoundMs: 404, LastBoundMs: 406,
		LastAnnouncedMs: 409, Bound: 2, Announced: 2}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Takeover (-want +got):\n%s", diff)
	}
	if g := got.ClaimToLastBound(); g != 2 {
		t.Errorf("ClaimToLastBound = %v, want 2", g)
	}
	if g := got.ClaimToLastAnnounced(); g != 5 {
		t.Errorf("ClaimToLastAnnounced = %v, want 5", g)
	}
	// A fault after the election: this node did not take over after it.
	if _, ok := Takeover("n3", lines, fault.Add(time.Second)); ok {
		t.Error("Takeover after the election: ok, want not")
	}
}

// A VIP bound again later in the term (it vanished from the kernel) counts
// once: every VIP had been bound at its first line.
func TestTakeoverCountsEachVIPOnce(t *testing.T) {
	rebound := n3Log + `time=2026-11-25T09:28:45.000Z level=INFO msg="bound VIP" component=reconciler vip=192.0.2.100/24 link=eth0 term=3 label=eth0:vip lifetime=1s
`
	lines, err := ParseLog(strings.NewReader(rebound))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := Takeover("n3", lines, time.Date(2026, 11, 25, 9, 28, 42, 0, time.UTC))
	if got.Bound != 2 || got.LastBoundMs != 406 {
		t.Errorf("Takeover: %d bound, last at %v ms; want 2 at 406", got.Bound, got.LastBoundMs)
	}
	if !got.Complete(2) || got.Complete(3) {
		t.Errorf("Complete(2) = %v, Complete(3) = %v; want true, false", got.Complete(2), got.Complete(3))
	}
}
