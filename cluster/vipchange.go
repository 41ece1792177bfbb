package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/raftvip/raftvip/fsm"
)

// ErrVIPExists: an added VIP would change the prefix length or the interface
// of the VIP that has its address, and the change was not asked for
// explicitly. Nothing changed.
var ErrVIPExists = errors.New("VIP exists")

// ErrLinkMissing: an added VIP names an interface that VIP-capable members
// reported they do not have, and the add was not forced. Nothing changed.
var ErrLinkMissing = errors.New("missing link")

// AddVIPOptions say what AddVIP may do beyond adding a new VIP.
type AddVIPOptions struct {
	// Replace allows changing the prefix length or the interface of the
	// VIP with the same address (checkVIPChange).
	Replace bool
	// Force accepts a VIP pinned to an interface that VIP-capable members
	// lack (checkVIPLinks), and one whose address another host answers for
	// (Config.InUse): no node binds it until that host lets it go.
	Force bool
}

// AddVIPResult is what a successful AddVIP accepted.
type AddVIPResult struct {
	// MissingLink are the VIP-capable members that reported no link named
	// as the VIP's interface: accepted only with Force. They cannot bind
	// the VIP while they hold the others.
	MissingLink []string
}

// AddVIP submits fsm.AddVIP(v) after the submission checks of Apply and two
// of its own: unless o.Replace, it refuses to change the prefix length or
// the interface of the VIP with v's address (checkVIPChange); unless
// o.Force, it refuses an interface that VIP-capable members lack
// (checkVIPLinks) or an address another host answers for (checkInUse).
// Adding a VIP that is already there as it is changes nothing. Leader only:
// a follower answers ErrNotLeader, so that the leader, whose state is
// current, decides.
func (n *Node) AddVIP(ctx context.Context, v fsm.VIP, o AddVIPOptions) (AddVIPResult, error) {
	if err := n.requireLeader("add VIP " + v.Prefix.String()); err != nil {
		return AddVIPResult{}, err
	}
	st := n.fsm.State()
	if err := checkVIPChange(st.VIPs, v, o.Replace); err != nil {
		return AddVIPResult{}, err
	}
	missing := checkVIPLinks(v, st.Members)
	if len(missing) > 0 && !o.Force {
		return AddVIPResult{}, fmt.Errorf("%w: interface %q of %s is not on %s, which could not bind it while "+
			"holding the VIPs (their links: %s): create it there, or pass -force (\"force\": true) to add it anyway",
			ErrLinkMissing, v.Interface, v.Prefix, strings.Join(missing, ", "), memberLinks(missing, st.Members))
	}
	if !o.Force {
		if err := n.checkInUse(ctx, v, st.VIPs); err != nil {
			return AddVIPResult{}, err
		}
	}
	if err := n.Apply(ctx, fsm.AddVIP(v)); err != nil {
		return AddVIPResult{}, err
	}
	return AddVIPResult{MissingLink: missing}, nil
}

// checkInUse refuses a new VIP whose address another host has, asked on the
// LAN through Config.InUse. The holder also probes before its first bind,
// but keeps what it finds to itself: a node taking over later inherits the
// VIP and binds it unprobed (netops, "Why a VIP is probed before its first
// bind"), taking the other host's address. A VIP already in the set is not
// asked about: its holder answers for it. A member's own address is refused
// first, by name (checkVIPCommand), rather than as a MAC here.
func (n *Node) checkInUse(ctx context.Context, v fsm.VIP, vips []fsm.VIP) error {
	if n.cfg.InUse == nil || slices.ContainsFunc(vips, func(o fsm.VIP) bool { return o.Prefix.Addr() == v.Prefix.Addr() }) {
		return nil
	}
	// Apply checks this again; asked first here, the operator hears which
	// member the address is rather than only its MAC.
	if err := n.checkVIPAddrs("add VIP "+v.Prefix.String(), fsm.AddVIP(v)); err != nil {
		return err
	}
	who, err := n.cfg.InUse(ctx, v)
	switch {
	case err != nil:
		n.log.Info("could not ask the LAN whether another host has a new VIP's address; its holder asks before it binds it",
			"vip", v.Prefix, "err", err)
	case who != "":
		return fmt.Errorf("%w: refusing VIP %s: %s; a VIP must be an address no host has of its own: "+
			"free it there, or pass -force (\"force\": true) to add it anyway (no node binds it while another host answers for it)",
			ErrAddressConflict, v.Prefix, who)
	}
	return nil
}

// checkVIPLinks returns, sorted, the VIP-capable members that reported their
// links and have none named as v's interface. A VIP without an interface of
// its own goes to the link whose subnet contains it, chosen on each node, so
// there is nothing to check. Witnesses never hold the VIPs. A member that
// has not reported its links (a release from before links were reported, or
// a node just started) is not held against the VIP: the leader cannot know.
func checkVIPLinks(v fsm.VIP, members map[string]fsm.Member) []string {
	if v.Interface == "" {
		return nil
	}
	var missing []string
	for _, id := range slices.Sorted(maps.Keys(members)) {
		m := members[id]
		if !m.Witness && m.ReportedLinks() && !m.HasLink(v.Interface) {
			missing = append(missing, id)
		}
	}
	return missing
}

// memberLinks says which links each of ids reported, so that a refusal
// shows the name the operator probably meant.
func memberLinks(ids []string, members map[string]fsm.Member) string {
	const most = 8 // a host with many links would drown the answer
	parts := make([]string, len(ids))
	for i, id := range ids {
		l := members[id].Links
		parts[i] = id + " " + strings.Join(l[:min(len(l), most)], " ")
		if len(l) > most {
			parts[i] += fmt.Sprintf(" and %d more", len(l)-most)
		}
	}
	return strings.Join(parts, "; ")
}

// checkVIPChange refuses, unless replace, a VIP that has the address of one
// of vips with another prefix length or interface: fsm.AddVIP replaces the
// VIP with its address, and an operator who typed /25 for /24, or added a
// VIP a second time with another interface, would move or re-bind a live
// address without meaning to.
func checkVIPChange(vips []fsm.VIP, v fsm.VIP, replace bool) error {
	if replace {
		return nil
	}
	for _, old := range vips {
		if old.Prefix.Addr() != v.Prefix.Addr() {
			continue
		}
		var what []string
		if old.Prefix.Bits() != v.Prefix.Bits() {
			what = append(what, fmt.Sprintf("its prefix length /%d to /%d", old.Prefix.Bits(), v.Prefix.Bits()))
		}
		if old.Interface != v.Interface {
			what = append(what, fmt.Sprintf("its interface %q to %q", old.Interface, v.Interface))
		}
		if len(what) == 0 {
			return nil
		}
		return fmt.Errorf("%w: %s (interface %q) is in the VIP set; adding %s would change %s: "+
			"pass -replace (\"replace\": true) to change it", ErrVIPExists, old.Prefix, old.Interface, v.Prefix,
			joinAnd(what))
	}
	return nil
}

func joinAnd(parts []string) string {
	if len(parts) == 2 {
		return parts[0] + " and " + parts[1]
	}
	return parts[0]
}
