package netops_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
	"github.com/raftvip/raftvip/netops/netopstest"
)

// InUse names whoever has a VIP's address before it is added: another host
// answering the probe on the link the VIP would go to, or this host itself;
// a free address and one of raftvip's own VIPs pass; a host that cannot ask
// says so rather than calling the address free.
func TestInUse(t *testing.T) {
	ctx := context.Background()
	v6 := fsm.VIP{Prefix: netip.MustParsePrefix("2001:db8::100/64")}
	pinned := fsm.VIP{Prefix: netip.MustParsePrefix("198.51.100.7/24"), Interface: "eth1"}
	for _, tt := range []struct {
		name   string
		v      fsm.VIP
		setup  func(k *netopstest.Fake, h *netopstest.Hosts)
		want   []string // words of the answer; nil: free
		probe  string   // the probe sent, "" for none
		failed bool
	}{
		{name: "free", v: vip101, probe: "probe 192.0.2.101 eth0"},
		{name: "free IPv6", v: v6, probe: "probe 2001:db8::100 eth0"},
		{name: "another host answers", v: vip101,
			setup: func(_ *netopstest.Fake, h *netopstest.Hosts) { h.Claim(vip101.Prefix.Addr(), otherMAC) },
			want:  []string{"another host", otherMAC.String(), "192.0.2.101", "eth0"}, probe: "probe 192.0.2.101 eth0"},
		{name: "the VIP's own interface is probed", v: pinned, probe: "probe 198.51.100.7 eth1"},
		{name: "an address of this host", v: vip101,
			setup: func(k *netopstest.Fake, _ *netopstest.Hosts) {
				k.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.101/24")}}, 0)
			},
			want: []string{"leader's own host", "eth0"}},
		{name: "raftvip's own VIP here is no conflict", v: vip101,
			setup: func(k *netopstest.Fake, _ *netopstest.Hosts) {
				k.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.101/24")}, Ours: true}, 0)
			},
			probe: "probe 192.0.2.101 eth0"},
		{name: "a VIP of an older raftvip here is no conflict", v: vip101,
			setup: func(k *netopstest.Fake, _ *netopstest.Hosts) {
				k.Put("eth0", netops.Found{Addr: netops.Addr{Prefix: netip.MustParsePrefix("192.0.2.101/24")}, Legacy: true}, 0)
			},
			probe: "probe 192.0.2.101 eth0"},
		{name: "no link for the VIP here", v: fsm.VIP{Prefix: netip.MustParsePrefix("203.0.113.5/24")}, failed: true},
		{name: "the probe fails", v: vip101,
			setup: func(_ *netopstest.Fake, h *netopstest.Hosts) { h.Fail(errors.New("no raw socket")) },
			probe: "probe 192.0.2.101 eth0", failed: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k := netopstest.NewFake()
			k.AddLink("eth0", netip.MustParsePrefix("192.0.2.11/24"), netip.MustParsePrefix("2001:db8::11/64"))
			k.AddLink("eth1", netip.MustParsePrefix("198.51.100.11/24"))
			h := netopstest.NewHosts()
			if tt.setup != nil {
				tt.setup(k, h)
			}
			who, err := netops.InUse(ctx, k, h, tt.v)
			if (err != nil) != tt.failed {
				t.Fatalf("InUse(%s) = %q, %v; want an error: %v", tt.v.Prefix, who, err, tt.failed)
			}
			for _, w := range tt.want {
				if !strings.Contains(who, w) {
					t.Errorf("InUse(%s) = %q, want it to name %q", tt.v.Prefix, who, w)
				}
			}
			if tt.want == nil && who != "" {
				t.Errorf("InUse(%s) = %q, want free", tt.v.Prefix, who)
			}
			var want []string
			if tt.probe != "" {
				want = []string{tt.probe}
			}
			if got := h.Probes(); !slices.Equal(got, want) {
				t.Errorf("probes %v, want %v", got, want)
			}
		})
	}
}
