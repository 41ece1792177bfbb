package netops

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/raftvip/raftvip/fsm"
)

var (
	vip100 = fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/24")}
	vip101 = fsm.VIP{Prefix: netip.MustParsePrefix("192.0.2.101/32"), Interface: "eth1", Label: "web"}
	vip6   = fsm.VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64")}
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// prefixComparer lets cmp compare netip values, whose fields are unexported.
var prefixComparer = cmp.Options{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
}

func TestDesired(t *testing.T) {
	vips := []fsm.VIP{vip100, vip6}
	owned := fsm.State{VIPs: vips, Owner: fsm.Owner{Node: "n1", Term: 4}}
	tests := []struct {
		name string
		v    View
		me   string
		want []fsm.VIP
	}{
		{"owner and leader in its term", View{State: owned, Leader: true, Term: 4}, "n1", vips},
		{"follower", View{State: owned, Leader: false, Term: 4}, "n2", nil},
		{"owner no longer leader", View{State: owned, Leader: false, Term: 4}, "n1", nil},
		{"leader whose claim is not committed yet", View{State: owned, Leader: true, Term: 5}, "n1", nil},
		{"leader but another owner", View{State: owned, Leader: true, Term: 4}, "n2", nil},
		{"empty node ID", View{State: fsm.State{VIPs: vips}, Leader: true}, "", nil},
		{"owner with no VIPs", View{State: fsm.State{Owner: owned.Owner}, Leader: true, Term: 4}, "n1", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desired(tt.v, tt.me)
			if diff := cmp.Diff(tt.want, got, prefixComparer); diff != "" {
				t.Fatalf("Desired (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	d100 := ResolvedVIP{VIP: vip100, Link: "eth0"}
	d101 := ResolvedVIP{VIP: vip101, Link: "eth1"}
	d6 := ResolvedVIP{VIP: vip6, Link: "eth0"}
	own := pfx("192.0.2.11/24")
	// vip11 equals the node's own address: the VIP set is wrong, or the
	// operator added the address by hand.
	vip11 := fsm.VIP{Prefix: own}
	d11 := ResolvedVIP{VIP: vip11, Link: "eth0"}
	d11host := ResolvedVIP{VIP: fsm.VIP{Prefix: pfx("192.0.2.11/32"), Interface: "eth1"}, Link: "eth1"}
	managed := []netip.Addr{vip100.Prefix.Addr(), vip101.Prefix.Addr(), vip6.Prefix.Addr()}
	tests := []struct {
		name     string
		desired  []ResolvedVIP
		observed map[string][]Found
		also     netip.Addr // managed too, e.g. a VIP of the state equal to own
		want     Plan
	}{
		{
			name:     "holder binds what is missing",
			desired:  []ResolvedVIP{d100, d101, d6},
			observed: map[string][]Found{"eth0": {unmarked(own)}, "eth1": nil},
			want:     Plan{Bind: []ResolvedVIP{d100, d101, d6}},
		},
		{
			name:     "present ones are kept",
			desired:  []ResolvedVIP{d100, d6},
			observed: map[string][]Found{"eth0": {unmarked(own), marked(vip100.Prefix), marked(vip6.Prefix)}},
			want:     Plan{Keep: []ResolvedVIP{d100, d6}},
		},
		{
			name:     "follower unbinds managed addresses only",
			observed: map[string][]Found{"eth0": {unmarked(own), marked(vip6.Prefix), marked(vip100.Prefix)}, "eth1": {marked(vip101.Prefix)}},
			want: Plan{Unbind: []Binding{
				{"eth0", vip100.Prefix}, {"eth0", vip6.Prefix}, {"eth1", vip101.Prefix},
			}},
		},
		{
			name:     "another prefix length is unbound, then the desired one bound",
			desired:  []ResolvedVIP{d100},
			observed: map[string][]Found{"eth0": {unmarked(own), marked(pfx("192.0.2.100/32"))}},
			want:     Plan{Unbind: []Binding{{"eth0", pfx("192.0.2.100/32")}}, Bind: []ResolvedVIP{d100}},
		},
		{
			name:     "a VIP on the wrong link moves",
			desired:  []ResolvedVIP{d101},
			observed: map[string][]Found{"eth0": {unmarked(own), marked(vip101.Prefix)}, "eth1": nil},
			want:     Plan{Unbind: []Binding{{"eth0", vip101.Prefix}}, Bind: []ResolvedVIP{d101}},
		},
		{
			name:     "a link missing from observed counts as empty",
			desired:  []ResolvedVIP{d101},
			observed: map[string][]Found{},
			want:     Plan{Bind: []ResolvedVIP{d101}},
		},
		{
			name:     "the node's own address in a VIP's subnet is never touched",
			observed: map[string][]Found{"eth0": {unmarked(own), unmarked(pfx("192.0.2.12/24")), unmarked(pfx("2001:db8::11/64"))}},
			want:     Plan{},
		},
		{
			name:     "a desired VIP equal to the node's own address is a conflict, not adopted",
			desired:  []ResolvedVIP{d11, d100},
			observed: map[string][]Found{"eth0": {unmarked(own)}},
			want: Plan{Bind: []ResolvedVIP{d100},
				Conflict: []Conflict{{VIP: vip11, At: Binding{"eth0", own}}}},
		},
		{
			name:     "a conflict is by address, whatever the prefix length and link",
			desired:  []ResolvedVIP{d11host},
			observed: map[string][]Found{"eth0": {unmarked(own)}, "eth1": nil},
			want:     Plan{Conflict: []Conflict{{VIP: d11host.VIP, At: Binding{"eth0", own}}}},
		},
		{
			name:     "raftvip's own copy of a conflicting VIP is unbound",
			desired:  []ResolvedVIP{d11},
			observed: map[string][]Found{"eth0": {unmarked(own), marked(pfx("192.0.2.11/32"))}},
			want: Plan{Unbind: []Binding{{"eth0", pfx("192.0.2.11/32")}},
				Conflict: []Conflict{{VIP: vip11, At: Binding{"eth0", own}}}},
		},
		{
			name:     "a follower leaves the node's own address equal to a VIP in place",
			also:     own.Addr(),
			observed: map[string][]Found{"eth0": {unmarked(own), marked(vip100.Prefix)}},
			want:     Plan{Unbind: []Binding{{"eth0", vip100.Prefix}}, Foreign: []Binding{{"eth0", own}}},
		},
		{
			name:     "a legacy address is not the reconciler's to remove",
			observed: map[string][]Found{"eth0": {{Addr: Addr{Prefix: vip100.Prefix}, Legacy: true}}},
			want:     Plan{Foreign: []Binding{{"eth0", vip100.Prefix}}},
		},
		{
			name:     "a held VIP an operator replaced without the mark is a conflict",
			desired:  []ResolvedVIP{d100},
			observed: map[string][]Found{"eth0": {unmarked(vip100.Prefix)}},
			want:     Plan{Conflict: []Conflict{{VIP: vip100, At: Binding{"eth0", vip100.Prefix}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.desired, tt.observed, append(managed, tt.also)...)
			if diff := cmp.Diff(tt.want, got, prefixComparer); diff != "" {
				t.Fatalf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}

func marked(p netip.Prefix) Found   { return Found{Addr: Addr{Prefix: p}, Ours: true} }
func unmarked(p netip.Prefix) Found { return Found{Addr: Addr{Prefix: p}} }

func TestLeftover(t *testing.T) {
	vips := []fsm.VIP{vip100, vip6, {Prefix: pfx("192.0.2.11/24")}, {Prefix: pfx("198.51.100.8/24"), Label: "web"}}
	legacy := func(p string, label string) Found {
		return Found{Addr: Addr{Prefix: pfx(p), Label: label}, Legacy: true}
	}
	tests := []struct {
		name string
		f    Found
		want verdict
	}{
		{"a marked VIP", marked(vip100.Prefix), remove},
		{"a marked VIP, another prefix length", marked(pfx("192.0.2.100/32")), remove},
		{"a marked IPv6 VIP", marked(vip6.Prefix), remove},
		{"a marked address with the default label", Found{Addr: Addr{Prefix: pfx("192.0.2.150/24"), Label: "eth0:vip"}, Ours: true}, remove},
		{"a marked address with a known VIP's label", Found{Addr: Addr{Prefix: pfx("198.51.100.7/24"), Label: "eth0:web"}, Ours: true}, remove},
		{"a marked address of another cluster", marked(pfx("192.0.2.150/24")), notVIP},
		{"the node's own address equal to a VIP", unmarked(pfx("192.0.2.11/24")), foreign},
		{"an operator's address equal to a VIP, another prefix length", unmarked(pfx("192.0.2.100/32")), foreign},
		{"an unmarked address with a VIP label", Found{Addr: Addr{Prefix: pfx("192.0.2.150/24"), Label: "eth0:vip"}}, notVIP},
		{"the node's own address", unmarked(pfx("192.0.2.12/24")), notVIP},
		{"a legacy VIP", legacy("192.0.2.100/24", "eth0:vip"), remove},
		{"a legacy IPv6 VIP", legacy("2001:db8::100/64", ""), remove},
		{"a legacy VIP, another prefix length", legacy("192.0.2.100/32", "eth0:vip"), foreign},
		{"a legacy address with a VIP label only", legacy("192.0.2.150/24", "eth0:vip"), notVIP},
	}
	for _, tt := range tests {
		if got := leftover("eth0", tt.f, vips); got != tt.want {
			t.Errorf("%s: leftover(%+v) = %d, want %d", tt.name, tt.f, got, tt.want)
		}
	}
}

func TestDiffDesiredIsManaged(t *testing.T) {
	// A desired address is managed even when the caller forgot to say so: it
	// must be moved off a wrong link all the same.
	d := ResolvedVIP{VIP: vip101, Link: "eth1"}
	got := Diff([]ResolvedVIP{d}, map[string][]Found{"eth0": {marked(vip101.Prefix)}, "eth1": nil})
	want := Plan{Unbind: []Binding{{"eth0", vip101.Prefix}}, Bind: []ResolvedVIP{d}}
	if diff := cmp.Diff(want, got, prefixComparer); diff != "" {
		t.Fatalf("Diff (-want +got):\n%s", diff)
	}
}

func TestLabels(t *testing.T) {
	tests := []struct {
		link string
		v    fsm.VIP
		want string
	}{
		{"eth0", vip100, "eth0:vip"},
		{"eth1", vip101, "eth1:web"},
		{"eth0", vip6, ""},
		{"enp0s31f6", fsm.VIP{Prefix: vip100.Prefix, Label: "frontend"}, "enp0s31f6:front"},
		{"verylongname15", vip100, "verylongname15:"},
	}
	for _, tt := range tests {
		got := ResolvedVIP{VIP: tt.v, Link: tt.link}.Addr()
		if got.Label != tt.want || got.Prefix != tt.v.Prefix {
			t.Errorf("Addr(%s on %s) = %+v, want label %q", tt.v, tt.link, got, tt.want)
		}
		if len(got.Label) > maxLabel {
			t.Errorf("label %q is longer than %d", got.Label, maxLabel)
		}
	}
}

func TestScheduleAt(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		s    Schedule
		want []time.Duration // until the schedule ends, or the first 8
	}{
		{"default", DefaultSchedule(), []time.Duration{0, 50 * ms, 100 * ms, 2000 * ms, 2050 * ms, 2100 * ms}},
		{"refresh", Schedule{Burst: 2, BurstGap: 10 * ms, Repeat: time.Second, Refresh: 5 * time.Second},
			[]time.Duration{0, 10 * ms, 1000 * ms, 1010 * ms, 6010 * ms, 11010 * ms, 16010 * ms, 21010 * ms}},
		{"no repeat", Schedule{Burst: 1}, []time.Duration{0}},
		{"no repeat, refresh", Schedule{Burst: 2, BurstGap: ms, Refresh: time.Second},
			[]time.Duration{0, ms, 1001 * ms, 2001 * ms, 3001 * ms, 4001 * ms, 5001 * ms, 6001 * ms}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.validate(); err != nil {
				t.Fatal(err)
			}
			var got []time.Duration
			for n := 0; n < 8; n++ {
				at, ok := tt.s.at(n)
				if !ok {
					break
				}
				got = append(got, at)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("schedule (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	for _, s := range []Schedule{
		{},
		{Burst: 1, BurstGap: -1},
		{Burst: 3, BurstGap: time.Second, Repeat: time.Second},
		{Burst: 1, Refresh: -time.Second},
	} {
		if err := s.validate(); err == nil {
			t.Errorf("validate(%+v) = nil, want an error", s)
		}
	}
}
