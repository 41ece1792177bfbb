package netops

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO (linux/if_addr.h, Linux 6.3): a u8 attribute of an
// address naming who added it, kept by the kernel and reported in dumps, like
// the protocol of a route. golang.org/x/sys/unix has no constant for it and
// vishvananda/netlink v1.3.1 neither sets nor parses it.
const ifaProto = 11

// Mark is the IFA_PROTO value of every address raftvip binds: 0x52, 'R'. The
// kernel defines 0 (unspec, what `ip addr add` and every older program
// leave), 1 (kernel_lo), 2 (kernel_ra) and 3 (kernel_ll) and leaves the rest
// to userspace, as with route protocols; no other program in iproute2's
// rt_addrprotos or in common network managers uses 0x52. `ip -d addr` shows
// it as "proto 0x52".
const Mark = 0x52

// kaddr is an address from a dump, with the fields netlink.Addr lacks.
type kaddr struct {
	netlink.Addr
	proto uint8
}

// found returns the Found form of a, and false for an address without a
// usable prefix.
func (a kaddr) found() (Found, bool) {
	p, ok := prefixOf(a.IPNet)
	if !ok {
		return Found{}, false
	}
	f := Found{Addr: Addr{Prefix: p, Label: a.Label}, Ours: a.proto == Mark,
		Deprecated: a.Flags&unix.IFA_F_DEPRECATED != 0}
	// valid_lft is 0xffffffff (INFINITY_LIFE_TIME) for a static address. Old
	// versions bound IPv6 VIPs with NODAD, which SLAAC never sets: a SLAAC
	// address past its preferred lifetime is deprecated but not Legacy.
	finite := a.ValidLft > 0 && uint32(a.ValidLft) != ^uint32(0)
	nodad := p.Addr().Is4() || a.Flags&unix.IFA_F_NODAD != 0
	f.Legacy = !f.Ours && finite && a.PreferedLft == 0 && nodad
	return f, true
}

// request returns a request on n's own route socket.
func (n *Netlink) request(proto, flags int) *nl.NetlinkRequest {
	return &nl.NetlinkRequest{
		NlMsghdr: unix.NlMsghdr{Len: unix.SizeofNlMsghdr, Type: uint16(proto), Flags: unix.NLM_F_REQUEST | uint16(flags)},
		Sockets:  n.route,
	}
}

// newMarked adds a to the link with index idx, carrying Mark, valid for
// validSecs and deprecated. mode is unix.NLM_F_EXCL (fail with EEXIST if the
// address is there) or unix.NLM_F_REPLACE (add it or replace it: a renewal).
// It is netlink's AddrReplace (addr_linux.go, addrHandle) for a local address
// without a peer, plus IFA_PROTO; like it, it sets the IPv4 broadcast address
// of prefixes shorter than /31.
func (n *Netlink) newMarked(idx int, a Addr, validSecs int, mode int) error {
	var flags uint8
	if !a.Prefix.Addr().Is4() {
		// IPv6 has no labels. Without NODAD the address is tentative for
		// 1-2 s (binding to it fails) and ends up dadfailed if the old owner
		// still holds it (docs/design.md, "IPv6 neighbour advertisements").
		a.Label = ""
		flags = unix.IFA_F_NODAD
	}
	req := n.addrRequest(unix.RTM_NEWADDR, unix.NLM_F_CREATE|mode|unix.NLM_F_ACK, idx, a, flags)
	if a.Prefix.Addr().Is4() && a.Prefix.Bits() < 31 {
		req.AddData(nl.NewRtAttr(unix.IFA_BROADCAST, broadcast(a.Prefix).AsSlice()))
	}
	ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Valid: uint32(validSecs), Prefered: 0}}
	req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	req.AddData(nl.NewRtAttr(ifaProto, nl.Uint8Attr(Mark)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// delAddr deletes a from the link with index idx. The kernel matches the
// address and prefix length, and for IPv4 the label if a has one.
func (n *Netlink) delAddr(idx int, a Addr) error {
	if !a.Prefix.Addr().Is4() {
		a.Label = ""
	}
	req := n.addrRequest(unix.RTM_DELADDR, unix.NLM_F_ACK, idx, a, 0)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// addrRequest returns an address request of type typ for a on the link with
// index idx: the message, the local address and, for IPv4, the label.
func (n *Netlink) addrRequest(typ, flags, idx int, a Addr, ifaFlags uint8) *nl.NetlinkRequest {
	req := n.request(typ, flags)
	ip := a.Prefix.Addr()
	family := netlink.FAMILY_V6
	if ip.Is4() {
		family = netlink.FAMILY_V4
	}
	msg := nl.NewIfAddrmsg(family)
	msg.Index = uint32(idx)
	msg.Prefixlen = uint8(a.Prefix.Bits())
	msg.Flags = ifaFlags
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip.AsSlice()))
	if ip.Is4() && a.Label != "" {
		req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(a.Label)))
	}
	return req
}

// broadcast returns the last address of an IPv4 prefix.
func broadcast(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	mask := net.CIDRMask(p.Bits(), 32)
	for i := range b {
		b[i] |= ^mask[i]
	}
	return netip.AddrFrom4(b)
}

// dump lists the addresses of family (netlink.FAMILY_*) on the link with
// index idx, or on every link for 0, retried while the dump is interrupted:
// the data of an interrupted dump may be inconsistent, so it is never used.
func (n *Netlink) dump(idx, family int) ([]kaddr, error) {
	var err error
	for range dumpRetries {
		var as []kaddr
		if as, err = n.dumpOnce(idx, family); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return as, err
		}
		n.log.Debug("address dump interrupted, retrying")
	}
	return nil, err
}

func (n *Netlink) dumpOnce(idx, family int) ([]kaddr, error) {
	req := n.request(unix.RTM_GETADDR, unix.NLM_F_DUMP)
	req.AddData(nl.NewIfAddrmsg(family))
	msgs, execErr := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
	if execErr != nil && !errors.Is(execErr, netlink.ErrDumpInterrupted) {
		return nil, execErr
	}
	var out []kaddr
	for _, m := range msgs {
		a, err := parseAddrMsg(m)
		if err != nil {
			return nil, err
		}
		if (idx == 0 || a.LinkIndex == idx) && (family == netlink.FAMILY_ALL || a.family() == family) {
			out = append(out, a)
		}
	}
	return out, execErr
}

func (a kaddr) family() int {
	if a.IP.To4() != nil {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// parseAddrMsg parses an RTM_NEWADDR message as netlink's parseAddr does,
// for local addresses: the address is IFA_LOCAL if present (IPv4 sends both),
// else IFA_ADDRESS (IPv6), with the message's prefix length.
func parseAddrMsg(m []byte) (kaddr, error) {
	if len(m) < unix.SizeofIfAddrmsg {
		return kaddr{}, fmt.Errorf("short address message: %d bytes", len(m))
	}
	msg := nl.DeserializeIfAddrmsg(m)
	attrs, err := nl.ParseRouteAttr(m[msg.Len():])
	if err != nil {
		return kaddr{}, fmt.Errorf("parse address message: %w", err)
	}
	a := kaddr{Addr: netlink.Addr{LinkIndex: int(msg.Index), Flags: int(msg.Flags), Scope: int(msg.Scope)}}
	var local, address []byte
	for _, attr := range attrs {
		v := attr.Value
		switch attr.Attr.Type {
		case unix.IFA_ADDRESS:
			address = v
		case unix.IFA_LOCAL:
			local = v
		case unix.IFA_LABEL:
			if len(v) > 0 {
				a.Label = string(v[:len(v)-1])
			}
		case unix.IFA_FLAGS:
			if len(v) >= 4 {
				a.Flags = int(nl.NativeEndian().Uint32(v))
			}
		case unix.IFA_CACHEINFO:
			if len(v) >= unix.SizeofIfaCacheinfo {
				ci := nl.DeserializeIfaCacheInfo(v)
				a.ValidLft, a.PreferedLft = int(ci.Valid), int(ci.Prefered)
			}
		case ifaProto:
			if len(v) >= 1 {
				a.proto = v[0]
			}
		}
	}
	ip := local
	if ip == nil {
		ip = address
	}
	if ip != nil {
		a.IPNet = &net.IPNet{IP: ip, Mask: net.CIDRMask(int(msg.Prefixlen), 8*len(ip))}
	}
	return a, nil
}
