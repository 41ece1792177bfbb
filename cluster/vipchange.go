package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/raftvip/raftvip/fsm"
)

// ErrVIPExists: an added VIP would change the prefix length or the interface
// of the VIP that has its address, and the change was not asked for
// explicitly. Nothing changed.
var ErrVIPExists = errors.New("VIP exists")

// AddVIP submits fsm.AddVIP(v) after the submission checks of Apply and one
// of its own: unless replace, it refuses to change the prefix length or the
// interface of the VIP with v's address (checkVIPChange). Adding a VIP that
// is already there as it is changes nothing. Leader only: a follower answers
// ErrNotLeader, so that the leader, whose state is current, decides.
func (n *Node) AddVIP(ctx context.Context, v fsm.VIP, replace bool) error {
	if err := n.requireLeader("add VIP " + v.Prefix.String()); err != nil {
		return err
	}
	if err := checkVIPChange(n.fsm.State().VIPs, v, replace); err != nil {
		return err
	}
	return n.Apply(ctx, fsm.AddVIP(v))
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
