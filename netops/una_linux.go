package netops

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/mdlayher/ndp"
	"golang.org/x/net/ipv6"
)

// ndpConn sends NDP messages. *ndp.Conn implements it; tests fake it.
type ndpConn interface {
	WriteTo(m ndp.Message, cm *ipv6.ControlMessage, dst netip.Addr) error
	Close() error
}

func (a *LinkAnnouncer) una(lc *linkConns, ip netip.Addr) error {
	msg, err := unaMessage(lc.ifi.HardwareAddr, ip)
	if err != nil {
		return err
	}
	if lc.ndp == nil {
		if lc.ndp, err = a.dialNDP(lc.ifi, ip); err != nil {
			return fmt.Errorf("open NDP socket: %w", err)
		}
	}
	if err := lc.ndp.WriteTo(msg, nil, netip.IPv6LinkLocalAllNodes()); err != nil {
		return fmt.Errorf("send neighbor advertisement: %w", err)
	}
	return nil
}

// unaMessage returns the unsolicited neighbour advertisement of vip at hw, for
// all nodes (ff02::1). Override is what makes a client replace an existing
// entry at once; without it the entry only goes STALE on the old MAC and
// traffic fails (docs/design.md, "IPv6 neighbour advertisements"). It is neither
// solicited nor from a router.
func unaMessage(hw net.HardwareAddr, vip netip.Addr) (*ndp.NeighborAdvertisement, error) {
	if !vip.Is6() || vip.Is4In6() || vip.Zone() != "" {
		return nil, fmt.Errorf("neighbor advertisement for %s: not a plain IPv6 address", vip)
	}
	if len(hw) != 6 {
		return nil, fmt.Errorf("neighbor advertisement for %s: %q is not an Ethernet MAC", vip, hw)
	}
	return &ndp.NeighborAdvertisement{
		Router:        false,
		Solicited:     false,
		Override:      true,
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: hw}},
	}, nil
}

// dialNDP opens an NDP socket on ifi, from its link-local address. Right after
// the link comes up that address is tentative (DAD) and cannot be bound, so it
// falls back to vip, which Bind added with NODAD and is usable at once.
func dialNDP(ifi *net.Interface, vip netip.Addr) (ndpConn, error) {
	c, _, err := ndp.Listen(ifi, ndp.LinkLocal)
	if err == nil {
		return c, nil
	}
	c, _, errVIP := ndp.Listen(ifi, ndp.Addr(vip.String()))
	if errVIP != nil {
		return nil, errors.Join(err, errVIP)
	}
	return c, nil
}
