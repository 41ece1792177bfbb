package netops

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/raftvip/raftvip/fsm"
)

func TestNextProbeStep(t *testing.T) {
	now := time.Unix(1000, 0)
	later := &inUse{next: now.Add(time.Second)}
	due := &inUse{next: now}
	for _, c := range []struct {
		name                        string
		inherited, cleared, probing bool
		use                         *inUse
		want                        probeStep
	}{
		{"new VIP", false, false, false, nil, stepProbe},
		{"inherited at takeover", true, false, false, nil, stepBind},
		{"probe under way", false, false, true, nil, stepWait},
		{"probe came back unanswered", false, true, false, nil, stepBind},
		{"in use, backoff running", false, false, false, later, stepWait},
		{"in use, backoff over", false, false, false, due, stepProbe},
		{"in use and inherited in a later term", true, false, false, later, stepWait},
	} {
		if got := nextProbeStep(c.inherited, c.cleared, c.probing, c.use, now); got != c.want {
			t.Errorf("%s: got %d, want %d", c.name, got, c.want)
		}
	}
}

func TestProbeBackoff(t *testing.T) {
	got := []time.Duration{}
	for n := 1; n <= 8; n++ {
		got = append(got, probeBackoff(n))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoffs = %v, want %v s", got, want)
		}
	}
}

func TestInheritedVIPs(t *testing.T) {
	vips := []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24")}}
	if got := inheritedVIPs(fsm.Owner{Node: "n1", Term: 2}, vips); len(got) != 0 {
		t.Errorf("first claim inherits %v, want nothing", got)
	}
	if got := inheritedVIPs(fsm.Owner{Node: "n1", Term: 5, Previous: "n2"}, vips); !got[vips[0].Prefix.Addr()] {
		t.Errorf("takeover inherits %v, want the VIP", got)
	}
}

func TestJudgeSighting(t *testing.T) {
	now := time.Unix(1000, 0)
	r := &rogue{mac: "02:00:00:00:00:09", last: now.Add(-time.Second), announced: now.Add(-500 * time.Millisecond)}
	for _, c := range []struct {
		name          string
		r             *rogue
		mac           string
		at            time.Time
		isNew, answer bool
	}{
		{"first sighting", nil, r.mac, now, true, true},
		{"same host again soon", r, r.mac, now, false, false},
		{"same host a second after the answer", r, r.mac, now.Add(600 * time.Millisecond), false, true},
		{"another host", r, "02:00:00:00:00:0a", now, true, true},
		{"same host after a quiet spell", r, r.mac, now.Add(rogueQuiet + time.Second), true, true},
	} {
		isNew, answer := judgeSighting(c.r, c.mac, c.at)
		if isNew != c.isNew || answer != c.answer {
			t.Errorf("%s: got new=%v answer=%v, want %v %v", c.name, isNew, answer, c.isNew, c.answer)
		}
	}
}

// TestOwedAnswer: a sighting within the gap of the last answer is not
// answered at once, but once the gap has passed; an answered one owes
// nothing, and a VIP no longer held is not announced.
func TestOwedAnswer(t *testing.T) {
	now := time.Unix(1000, 0)
	a := netip.MustParseAddr("192.0.2.100")
	h := &hold{}
	g := &lanGuard{rogues: map[netip.Addr]*rogue{}, log: slog.New(slog.DiscardHandler)}
	var announced int
	count := func(*hold) { announced++ }
	g.sighted(Sighting{IP: a, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}, h, now, count)
	if announced != 1 {
		t.Fatalf("first sighting: %d announcements, want 1", announced)
	}
	g.sighted(Sighting{IP: a, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}, h, now.Add(300*time.Millisecond), count)
	if announced != 1 {
		t.Fatalf("sighting within the gap: %d announcements, want still 1", announced)
	}
	held := map[netip.Addr]*hold{a: h}
	g.answerRogues(held, now.Add(rogueAnnounceGap/2), count)
	if announced != 1 {
		t.Fatalf("owed answer before the gap passed: %d announcements, want 1", announced)
	}
	g.answerRogues(held, now.Add(rogueAnnounceGap), count)
	if announced != 2 {
		t.Fatalf("owed answer after the gap: %d announcements, want 2", announced)
	}
	g.answerRogues(held, now.Add(3*rogueAnnounceGap), count)
	if announced != 2 {
		t.Fatalf("nothing owed: %d announcements, want 2", announced)
	}
	g.sighted(Sighting{IP: a, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}, h, now.Add(3*rogueAnnounceGap+100*time.Millisecond), count)
	g.sighted(Sighting{IP: a, MAC: net.HardwareAddr{2, 0, 0, 0, 0, 9}}, h, now.Add(3*rogueAnnounceGap+200*time.Millisecond), count)
	g.answerRogues(map[netip.Addr]*hold{}, now.Add(5*rogueAnnounceGap), count)
	if announced != 3 {
		t.Fatalf("owed answer for a VIP no longer held: %d announcements, want 3", announced)
	}
}
