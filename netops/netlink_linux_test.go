package netops

import (
	"net"
	"net/netip"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func nlAddr(t *testing.T, s string, link int, label string, flags int) netlink.Addr {
	t.Helper()
	p := netip.MustParsePrefix(s)
	return netlink.Addr{IPNet: ipNet(p), LinkIndex: link, Label: label, Flags: flags}
}

func TestPickLink(t *testing.T) {
	addrs := []netlink.Addr{
		nlAddr(t, "127.0.0.1/8", 1, "lo", 0),
		nlAddr(t, "10.0.0.0/8", 2, "eth0", 0),
		nlAddr(t, "192.0.2.11/24", 3, "eth1", 0),
		nlAddr(t, "192.0.2.200/24", 2, "eth0:vip", unix.IFA_F_DEPRECATED), // a VIP: ignored
		nlAddr(t, "198.51.100.100/24", 5, "eth3:web", unix.IFA_F_DEPRECATED),
		nlAddr(t, "203.0.113.9/24", 4, "eth2:vip", 0),
		nlAddr(t, "192.0.2.77/32", 6, "eth4", 0),
		nlAddr(t, "2001:db8::11/64", 3, "", 0),
		nlAddr(t, "2001:db8::1:0/112", 4, "", 0),
	}
	tests := []struct {
		ip   string
		want int // 0: none
	}{
		{"192.0.2.100", 3},
		{"192.0.2.11", 0}, // the address itself is not its own subnet
		{"10.1.2.3", 2},
		{"198.51.100.7", 0},
		{"203.0.113.7", 0},
		{"192.0.2.77", 3},
		{"2001:db8::100", 3},
		{"2001:db8::1:5", 4}, // the most specific subnet wins
	}
	for _, tt := range tests {
		got, ok := pickLink(addrs, netip.MustParseAddr(tt.ip))
		if !ok {
			got = 0
		}
		if got != tt.want {
			t.Errorf("pickLink(%s) = %d, %t; want %d", tt.ip, got, ok, tt.want)
		}
	}
}

func TestPrefixOf(t *testing.T) {
	for _, s := range []string{"192.0.2.100/24", "2001:db8::100/64", "192.0.2.1/32"} {
		p := netip.MustParsePrefix(s)
		if got, ok := prefixOf(ipNet(p)); !ok || got != p {
			t.Errorf("prefixOf(ipNet(%s)) = %s, %t", p, got, ok)
		}
	}
	mapped := &net.IPNet{IP: net.ParseIP("192.0.2.1"), Mask: net.CIDRMask(24, 32)}
	if got, ok := prefixOf(mapped); !ok || got != netip.MustParsePrefix("192.0.2.1/24") {
		t.Errorf("prefixOf(16-byte IPv4) = %s, %t", got, ok)
	}
	if _, ok := prefixOf(nil); ok {
		t.Error("prefixOf(nil) ok")
	}
}
