package probe

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const ms = time.Millisecond

// dials builds a dial sequence 10 ms apart: a node name answers, "-" fails.
func dials(seq ...string) []Dial {
	var out []Dial
	for i, s := range seq {
		d := Dial{At: time.Duration(i) * 10 * ms}
		if s == "-" {
			d.Err = "timeout"
		} else {
			d.Node = s
		}
		out = append(out, d)
	}
	return out
}

// states builds holder samples 10 ms apart.
func states(holders ...[]int) []State {
	var out []State
	for i, h := range holders {
		out = append(out, State{At: time.Duration(i) * 10 * ms, Holders: h})
	}
	return out
}

func TestAnalyzeDials(t *testing.T) {
	tests := []struct {
		name string
		seq  []string
		want Report // only the dial verdict fields
	}{
		{
			name: "steady",
			seq:  []string{"n1", "n1", "n1"},
			want: Report{OK: 3, Answerers: []string{"n1"}},
		},
		{
			name: "failover",
			seq:  []string{"n1", "n1", "-", "-", "-", "n2", "n2"},
			want: Report{OK: 4, Failed: 3, Outage: 40 * ms, OutageFrom: 10 * ms,
				TakeoverAt: 50 * ms, TakeoverBy: "n2", Flaps: 1, Answerers: []string{"n1", "n2"}},
		},
		{
			name: "longest of two outages, leading failures ignored",
			seq:  []string{"-", "-", "-", "-", "n1", "-", "n1", "-", "-", "n1"},
			want: Report{OK: 3, Failed: 7, Outage: 30 * ms, OutageFrom: 60 * ms, Answerers: []string{"n1"}},
		},
		{
			name: "unrecovered",
			seq:  []string{"n1", "-", "-"},
			want: Report{OK: 1, Failed: 2, Outage: 100 * ms, Unrecovered: true, Answerers: []string{"n1"}},
		},
		{
			name: "split brain flapping",
			seq:  []string{"n1", "n2", "n1", "n2"},
			want: Report{OK: 4, TakeoverAt: 10 * ms, TakeoverBy: "n2", Flaps: 3, Answerers: []string{"n1", "n2", "n1", "n2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := analyze(netip.Addr{}, time.Time{}, 100*ms, dials(tt.seq...), nil)
			r.Dials, r.Duration = nil, 0
			if diff := cmp.Diff(tt.want, r, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnalyzeStates(t *testing.T) {
	mac1 := net.HardwareAddr{2, 0, 0, 0, 0, 1}
	mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 2}
	st := states([]int{1}, []int{1, 2}, []int{1, 2}, []int{2}, nil, nil, nil, []int{2}, []int{1, 2})
	st[0].NeighMAC, st[1].NeighMAC, st[3].NeighMAC, st[8].NeighMAC = mac1, mac1, mac2, mac2
	st[5].Err = "netlink: interrupted" // neither ends nor extends a run
	r := analyze(netip.Addr{}, time.Time{}, 100*ms, nil, st)

	if r.DualHolder != 20*ms || r.DualHolderAt != 10*ms {
		t.Errorf("DualHolder = %v at %v, want 20ms at 10ms (the run at the end lasts 100ms-80ms, also 20ms, later)", r.DualHolder, r.DualHolderAt)
	}
	if r.NoHolder != 30*ms {
		t.Errorf("NoHolder = %v, want 30ms", r.NoHolder)
	}
	if diff := cmp.Diff([]net.HardwareAddr{mac1, mac2}, r.NeighMACs); diff != "" {
		t.Errorf("NeighMACs (-want +got):\n%s", diff)
	}
	if r.HolderSamples != 9 || r.HolderFailed != 1 {
		t.Errorf("HolderSamples, HolderFailed = %d, %d; want 9, 1", r.HolderSamples, r.HolderFailed)
	}
}

func TestAnalyzeNeverDual(t *testing.T) {
	r := analyze(netip.Addr{}, time.Time{}, 50*ms, nil, states([]int{1}, []int{1}, nil, []int{2}))
	if r.DualHolder != 0 {
		t.Errorf("DualHolder = %v, want 0", r.DualHolder)
	}
}

func TestWindows(t *testing.T) {
	r := analyze(netip.Addr{}, time.Time{}, 120*ms, dials("-", "n1", "-", "n1", "n1", "-", "-", "n2", "n2", "-"), nil)
	want := []Window{
		{From: 10 * ms, Length: 20 * ms},
		{From: 40 * ms, Length: 30 * ms},
		{From: 80 * ms, Length: 40 * ms, Unrecovered: true}, // to the end at 120 ms
	}
	if diff := cmp.Diff(want, r.Windows()); diff != "" {
		t.Errorf("Windows (-want +got):\n%s", diff)
	}
	if r.Outage != 40*ms || r.OutageFrom != 80*ms || !r.Unrecovered {
		t.Errorf("Outage = %v from %v, unrecovered %v; want the last window", r.Outage, r.OutageFrom, r.Unrecovered)
	}
}
