package lab

import (
	"net"
	"net/netip"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
)

// Announce sends one gratuitous ARP request for ip from namespace ns's lab
// link, as a host that claims ip does: the way the tests play a rogue host.
func Announce(ns string, ip netip.Addr) error {
	return RunInNS(ns, func() error {
		ifi, err := net.InterfaceByName(Link)
		if err != nil {
			return err
		}
		c, err := arp.Dial(ifi)
		if err != nil {
			return err
		}
		defer c.Close()
		pkt, err := arp.NewPacket(arp.OperationRequest, ifi.HardwareAddr, ip, make(net.HardwareAddr, 6), ip)
		if err != nil {
			return err
		}
		return c.WriteTo(pkt, ethernet.Broadcast)
	})
}
