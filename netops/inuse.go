package netops

import (
	"context"
	"fmt"

	"github.com/raftvip/raftvip/fsm"
)

// InUse says who already has v's address, asked from this host before v
// enters the cluster's VIP set: "" when nobody answers. It reads the kernel
// (an address of this host that raftvip did not add) and then asks the LAN
// on the link this node would bind v to (p.Probe), so that a VIP typed with
// a live host's address is refused at the API instead of being bound by a
// later holder. An error means this node cannot ask (no such link here, no
// raw socket), not that the address is free.
//
// Why at the API and not only before the first bind: the holder that finds a
// VIP in use keeps the finding to itself, and a node that takes over later
// inherits the VIP and binds it without a probe (see "Why a VIP is probed
// before its first bind"). Refusing the add keeps such a VIP out of the set.
func InUse(ctx context.Context, b Binder, p Prober, v fsm.VIP) (string, error) {
	kernel, err := b.Addrs(ctx)
	if err != nil {
		return "", err
	}
	ip := v.Prefix.Addr()
	for link, fs := range kernel {
		for _, f := range fs {
			// Legacy: a VIP bound by a release from before the mark,
			// raftvip's all the same.
			if f.Prefix.Addr() == ip && !f.Ours && !f.Legacy {
				return fmt.Sprintf("%s is an address of the leader's own host, on %s, not one raftvip added", ip, link), nil
			}
		}
	}
	link, err := linkFor(kernel, v)
	if err != nil {
		return "", err
	}
	mac, err := p.Probe(ctx, link, ip)
	if err != nil {
		return "", fmt.Errorf("probe %s on %s: %w", ip, link, err)
	}
	if mac == nil {
		return "", nil
	}
	return fmt.Sprintf("another host (MAC %s) answers for %s on %s", mac, ip, link), nil
}
