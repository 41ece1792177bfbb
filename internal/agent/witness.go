package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/netops"
)

// A witness (-witness) is a Raft voter that never holds the VIPs: the third
// voter of two VIP hosts, run on any host that reaches their Raft and API
// ports over TCP. It touches no interface address and sends no ARP or NA, so
// it needs neither CAP_NET_ADMIN nor CAP_NET_RAW and may run as an
// unprivileged user on another subnet. The cluster side (never claims, hands
// leadership on) is in cluster/witness.go.

// errWitnessKernel is what the witness's kernel parts answer to anything
// that would change the host's network: nothing on a witness may.
var errWitnessKernel = errors.New("a witness never binds or announces VIPs")

// validateWitness refuses, on a witness, every setting that only concerns a
// node that holds the VIPs, naming it and saying why.
func (c Config) validateWitness() error {
	if !c.Witness {
		return nil
	}
	refused := []struct {
		set  bool
		name string
	}{
		{len(c.VIPs) > 0, "-vip"},
		{c.Interface != "", "-interface"},
		{len(c.Checks) > 0, "checks:"},
		{c.NotifyMaster != "", "-notify-master"},
		{c.NotifyBackup != "", "-notify-backup"},
		{c.NotifyFault != "", "-notify-fault"},
	}
	for _, r := range refused {
		if r.set {
			return fmt.Errorf("%s is refused with -witness: a witness never holds the VIPs, "+
				"so it has none to bind, check or notify about; set it on the VIP hosts", r.name)
		}
	}
	return nil
}

// witnessKernel is the kernel of a witness: it lists nothing, binds and
// announces nothing, and opens no netlink handle or packet socket.
type witnessKernel struct{}

var (
	_ netops.Binder    = witnessKernel{}
	_ netops.Announcer = witnessKernel{}
)

// Addrs finds nothing: a witness has no VIPs to look for.
func (witnessKernel) Addrs(context.Context) (netops.Links, error) { return netops.Links{}, nil }

// Bind refuses.
func (witnessKernel) Bind(_ context.Context, link string, a netops.Addr, _ time.Duration) error {
	return fmt.Errorf("bind %s on %s: %w", a.Prefix, link, errWitnessKernel)
}

// Renew refuses.
func (witnessKernel) Renew(_ context.Context, link string, a netops.Addr, _ time.Duration) error {
	return fmt.Errorf("renew %s on %s: %w", a.Prefix, link, errWitnessKernel)
}

// Unbind has nothing to remove.
func (witnessKernel) Unbind(context.Context, string, netops.Found) error { return nil }

// Announce refuses.
func (witnessKernel) Announce(_ context.Context, link string, ip netip.Addr) error {
	return fmt.Errorf("announce %s on %s: %w", ip, link, errWitnessKernel)
}

// Release has nothing to close.
func (witnessKernel) Release(string) error { return nil }

// noLinks is a witness's interface list for the leftover removal: it cannot
// remove addresses (no CAP_NET_ADMIN) and never added any.
func noLinks() ([]string, error) { return nil, nil }

// witnessView is a witness's reconciler view: never leader and no VIPs, so
// the reconciler has nothing to bind, look up or announce, whatever the
// cluster state says.
func witnessView(st fsm.State, term uint64) netops.View {
	st.VIPs = nil
	return netops.View{State: st, Term: term}
}
