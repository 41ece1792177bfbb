package netops

import (
	"net"
	"net/netip"
	"testing"
)

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
