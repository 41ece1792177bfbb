package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/raftvip/raftvip/fsm"
)

// defaultTimeout bounds a raft operation whose context has no deadline.
const defaultTimeout = 10 * time.Second

// Apply commits c through the Raft log and waits until this node's FSM has
// applied it. Only the leader can: elsewhere it returns ErrNotLeader (wrapping
// ErrNoLeader too when no leader is known). A command the FSM rejects returns
// the FSM's error (fsm.ErrNoSuchVIP, fsm.ErrStaleClaim ...), wrapped. A VIP
// that is a member's own address is refused here, before the log
// (ErrAddressConflict), so a follower forwarding the write gets the same
// answer. A commit not seen in time is ErrMaybeApplied.
func (n *Node) Apply(ctx context.Context, c fsm.Command) error {
	op := "apply " + c.Type.String()
	if err := n.requireLeader(op); err != nil {
		return err
	}
	if err := n.checkVIPAddrs(op, c); err != nil {
		return err
	}
	b, err := c.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	start := time.Now()
	var f raft.ApplyFuture
	if err := n.await(ctx, func() raft.Future { f = n.raft.Apply(b, n.timeout(ctx)); return f }); err != nil {
		return wrapWrite(op, checkCommand(c), err)
	}
	n.counters.commit(time.Since(start))
	if err, ok := f.Response().(error); ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// checkVIPAddrs refuses, for op, a command that would make a member's own
// address a VIP (checkVIPCommand), judged by the latest configuration.
func (n *Node) checkVIPAddrs(op string, c fsm.Command) error {
	if c.Type != fsm.TypeAddVIP && c.Type != fsm.TypeSeedVIPs {
		return nil
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return wrapRaft(op, err)
	}
	if err := checkVIPCommand(c, cf.Configuration(), n.fsm.Members()); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// checkCommand is the CLI command that shows whether c was applied.
func checkCommand(c fsm.Command) string {
	switch c.Type {
	case fsm.TypeAddVIP, fsm.TypeRemoveVIP, fsm.TypeSeedVIPs:
		return "raftvip vip ls"
	case fsm.TypeSetMember, fsm.TypeRemoveMember:
		return "raftvip members"
	}
	return "raftvip status"
}

// joinAction is what Join must change in the Raft configuration.
type joinAction int

const (
	joinNothing joinAction = iota // already a voter at that address
	joinAdd                       // new server, or a non-voter to promote
	joinReplace                   // same ID at another address
)

// planJoin decides how to add server id at addr to conf; self is this node.
// An address held by another ID is refused: silently evicting that member
// could drop the cluster below quorum, so the operator removes it first.
func planJoin(conf raft.Configuration, self, id string, addr raft.ServerAddress) (joinAction, error) {
	action := joinAdd
	for _, s := range conf.Servers {
		switch {
		case s.ID != raft.ServerID(id) && s.Address == addr:
			return 0, fmt.Errorf("%w: raft address %s is already used by member %s; remove it first (raftvip leave %s); nothing changed",
				ErrAddressConflict, addr, s.ID, s.ID)
		case s.ID != raft.ServerID(id):
		case s.Address != addr && id == self:
			return 0, fmt.Errorf("%w: member %s is this leader, at %s; it cannot move itself to %s; nothing changed",
				ErrAddressConflict, id, s.Address, addr)
		case s.Address != addr:
			action = joinReplace
		case s.Suffrage == raft.Voter:
			action = joinNothing
		}
	}
	return action, nil
}

// Join makes node id, reachable at raftAddr, a voter and records its API
// address. It is idempotent: the same id and address again changes nothing in
// Raft. A new node enters as a non-voter and is promoted once it has caught up
// with the log (addMember); a node that does not answer is refused before
// anything changes (checkJoiner) or removed again, so a typo cannot raise the
// quorum. The same id at another address (a node moved or rebuilt) is
// replaced, removed then added as Consul does, but only while the leader
// cannot reach it: re-addressing a live member would cut it off. An address
// that is a VIP is refused (ErrAddressConflict). Leader only.
func (n *Node) Join(ctx context.Context, id, raftAddr, apiAddr string) error {
	op := "join " + id
	if id == "" || raftAddr == "" {
		return fmt.Errorf("%s: node ID and raft address are required", op)
	}
	if err := n.requireLeader(op); err != nil {
		return err
	}
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return wrapRaft(op, err)
	}
	addr := raft.ServerAddress(raftAddr)
	action, err := planJoin(cf.Configuration(), n.cfg.ID, id, addr)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if why := conflictingVIP(raftAddr, apiAddr, n.fsm.State().VIPs); why != "" {
		return fmt.Errorf("%s: %w: %s; nothing changed", op, ErrAddressConflict, why)
	}
	var old *raft.Server
	if action == joinReplace {
		s, _ := n.server(id)
		if !n.peerUnreachable(id) {
			return fmt.Errorf("%s: %w: member %s is live at %s (this leader hears from it), so %s must be a typo; "+
				"nothing changed. To move %s, stop it and `raftvip leave %s` first",
				op, ErrAddressConflict, id, s.Address, raftAddr, id, id)
		}
		old = &s
	}
	if action != joinNothing {
		if err := n.checkJoiner(ctx, id, raftAddr, apiAddr); err != nil {
			return fmt.Errorf("%s: %w; nothing changed", op, err)
		}
		if err := n.addMember(ctx, op, id, addr, apiAddr, old, cf.Index()); err != nil {
			return err
		}
		n.log.Info("member joined", "id", id, "raft_addr", raftAddr, "replaced", action == joinReplace)
	}
	if apiAddr != "" && n.fsm.Members()[id].APIAddr != apiAddr {
		if err := n.Apply(ctx, fsm.SetMember(id, apiAddr)); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	return nil
}

// Leave removes node id from the Raft configuration and the FSM's members.
// Unknown to both: ErrUnknownMember. Leader only.
//
// The leader cannot usefully remove itself: once the change commits it is no
// longer leader and cannot record anything else. So Leave of the leader's own
// ID hands leadership over (dropping the VIPs first) and returns ErrNotLeader:
// the caller asks the new leader, which removes this node normally.
func (n *Node) Leave(ctx context.Context, id string) error {
	op := "leave " + id
	if err := n.requireLeader(op); err != nil {
		return err
	}
	if id == n.cfg.ID {
		if err := n.handOver(ctx, "", "", true, fsm.ReasonLeave); err != nil {
			return fmt.Errorf("%s: this node is the leader and could not hand leadership over: %w", op, err)
		}
		return fmt.Errorf("%s: this node was the leader and has handed leadership over; ask the new leader: %w",
			op, ErrNotLeader)
	}
	server, inRaft := n.server(id)
	_, inFSM := n.fsm.Members()[id]
	if !inRaft && !inFSM {
		return fmt.Errorf("%s: %w", op, ErrUnknownMember)
	}
	if inRaft {
		if err := n.await(ctx, func() raft.Future { return n.raft.RemoveServer(server.ID, 0, n.timeout(ctx)) }); err != nil {
			return wrapWrite(op, "raftvip members", err)
		}
	}
	if inFSM {
		if err := n.Apply(ctx, fsm.RemoveMember(id)); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	n.log.Info("member removed", "id", id)
	return nil
}

// TransferResult says what Transfer did.
type TransferResult struct {
	// Leader is the leader afterwards; "" when it was not known yet.
	Leader string
	// Moved is false when nothing was done: the target already leads, or
	// this node is the only voter.
	Moved bool
}

// Transfer hands leadership to voter id, or with id "" to handOffTarget's
// choice (the follower raft finds most up to date, unless a witness is among
// the voters), and waits briefly (leaderKnownWait) until the new
// leader is known, to name it. This node drops the VIPs first (see View).
// Transfer to itself, or to anyone when it is the only voter, is a no-op
// (Moved false). Leader only; an id not in the configuration is
// ErrUnknownMember, a witness ErrWitness.
func (n *Node) Transfer(ctx context.Context, id string) (TransferResult, error) {
	op := "transfer leadership"
	if err := n.requireLeader(op); err != nil {
		return TransferResult{}, err
	}
	noop := TransferResult{Leader: n.cfg.ID}
	if id == n.cfg.ID {
		return noop, nil
	}
	var addr raft.ServerAddress
	if id != "" {
		s, ok := n.server(id)
		if !ok {
			return TransferResult{}, fmt.Errorf("%s to %s: %w", op, id, ErrUnknownMember)
		}
		if s.Suffrage != raft.Voter {
			return TransferResult{}, fmt.Errorf("%s to %s: it is not a voter", op, id)
		}
		if n.fsm.State().IsWitness(id) {
			return TransferResult{}, fmt.Errorf("%s to %s: %w", op, id, ErrWitness)
		}
		addr = s.Address
	} else if !n.hasOtherVoter() {
		return noop, nil
	} else {
		id, addr = n.handOffTarget(ctx)
	}
	if err := n.handOver(ctx, id, addr, true, fsm.ReasonTransfer); err != nil {
		return TransferResult{}, fmt.Errorf("%s: %w", op, err)
	}
	return TransferResult{Leader: n.awaitOtherLeader(ctx), Moved: true}, nil
}

// leaderKnownWait bounds how long Transfer waits to learn the new leader:
// its first heartbeat normally arrives within milliseconds.
func (n *Node) leaderKnownWait() time.Duration { return max(2*n.cfg.Timing.Election, time.Second) }

// awaitOtherLeader returns the leader once it is another node, or "" if
// none is known within leaderKnownWait.
func (n *Node) awaitOtherLeader(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, n.leaderKnownWait())
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, id := n.raft.LeaderWithID(); id != "" && string(id) != n.cfg.ID {
			return string(id)
		}
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
	}
}

// hasOtherVoter reports whether a voter other than this node exists.
func (n *Node) hasOtherVoter() bool {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return true // let raft answer
	}
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.cfg.ID {
			return true
		}
	}
	return false
}

// server returns the configuration entry of id.
func (n *Node) server(id string) (raft.Server, bool) {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return raft.Server{}, false
	}
	for _, s := range cf.Configuration().Servers {
		if s.ID == raft.ServerID(id) {
			return s, true
		}
	}
	return raft.Server{}, false
}

func (n *Node) requireLeader(op string) error {
	if n.raft.State() == raft.Leader {
		return nil
	}
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return fmt.Errorf("%s: %w: %w", op, ErrNotLeader, ErrNoLeader)
	}
	return fmt.Errorf("%s: %w (the leader is %s at %s)", op, ErrNotLeader, id, addr)
}

// timeout is raft's enqueue timeout for an operation under ctx.
func (n *Node) timeout(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return defaultTimeout
}

// ErrMaybeApplied: a write was submitted to the log, but its commit was not
// seen (a timeout, or leadership lost meanwhile): it may still be applied.
var ErrMaybeApplied = errors.New("the change may still be applied")

// wrapWrite is wrapRaft for a write raft has accepted: unless raft says it
// was not applied, the caller must hear that it may have been, and check is
// the command that shows which.
func wrapWrite(op, check string, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: timed out waiting for the commit (%w): %w; check with `%s`", op, err, ErrMaybeApplied, check)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%s: leadership was lost while committing (%w): %w; check with `%s`", op, err, ErrMaybeApplied, check)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%s: not applied: %w", op, err)
	}
	return wrapRaft(op, err)
}

// wrapRaft adds context to a raft error and maps raft's "not leader" family
// to ErrNotLeader, so callers only need the cluster sentinels.
func wrapRaft(op string, err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress) || errors.Is(err, raft.ErrNotVoter) {
		return fmt.Errorf("%s: %w: %w", op, ErrNotLeader, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
