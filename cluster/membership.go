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
// the FSM's error (fsm.ErrNoSuchVIP, fsm.ErrStaleClaim ...), wrapped.
func (n *Node) Apply(ctx context.Context, c fsm.Command) error {
	op := "apply " + c.Type.String()
	if err := n.requireLeader(op); err != nil {
		return err
	}
	b, err := c.Encode()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	start := time.Now()
	f := n.raft.Apply(b, n.timeout(ctx))
	if err := await(ctx, f); err != nil {
		return wrapRaft(op, err)
	}
	n.counters.commit(time.Since(start))
	if err, ok := f.Response().(error); ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
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
			return 0, fmt.Errorf("raft address %s is already used by member %s; remove it first (raftvip leave %s)",
				addr, s.ID, s.ID)
		case s.ID != raft.ServerID(id):
		case s.Address != addr && id == self:
			return 0, fmt.Errorf("member %s is this leader, at %s; it cannot move itself to %s", id, s.Address, addr)
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
// Raft. The same id at another address (a node moved or rebuilt) is replaced:
// removed, then added, as Consul does, so its old replication stream stops
// before a new one to the new address starts. Leader only.
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
	prev := cf.Index()
	if action == joinReplace {
		// prevIndex makes each change fail if the configuration moved meanwhile.
		rf := n.raft.RemoveServer(raft.ServerID(id), prev, n.timeout(ctx))
		if err := await(ctx, rf); err != nil {
			return wrapRaft(op+": remove old address", err)
		}
		prev = rf.Index()
	}
	if action != joinNothing {
		if err := await(ctx, n.raft.AddVoter(raft.ServerID(id), addr, prev, n.timeout(ctx))); err != nil {
			return wrapRaft(op+": add voter", err)
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
		if err := await(ctx, n.raft.RemoveServer(server.ID, 0, n.timeout(ctx))); err != nil {
			return wrapRaft(op, err)
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

// Transfer hands leadership to voter id, or with id "" to the follower raft
// finds most up to date. This node drops the VIPs first (see View). Transfer
// to itself is a no-op. Leader only; an id not in the configuration is
// ErrUnknownMember.
func (n *Node) Transfer(ctx context.Context, id string) error {
	op := "transfer leadership"
	if err := n.requireLeader(op); err != nil {
		return err
	}
	if id == n.cfg.ID {
		return nil
	}
	var addr raft.ServerAddress
	if id != "" {
		s, ok := n.server(id)
		if !ok {
			return fmt.Errorf("%s to %s: %w", op, id, ErrUnknownMember)
		}
		if s.Suffrage != raft.Voter {
			return fmt.Errorf("%s to %s: it is not a voter", op, id)
		}
		addr = s.Address
	}
	if err := n.handOver(ctx, id, addr, true, fsm.ReasonTransfer); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
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

// await waits for f or ctx. Raft futures know no context; the goroutine ends
// when raft resolves the future, which it always does (commit, lost
// leadership or shutdown).
func await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
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
