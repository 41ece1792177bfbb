package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// ErrUnreachable: a joining node did not answer at the address it was given,
// or did not catch up with the log; the configuration was left as it was.
var ErrUnreachable = errors.New("did not answer")

// joinDialTimeout bounds the connect check of a joining node's Raft and API
// addresses: a LAN host answers a connect in milliseconds, an absent one
// not at all (no ARP reply), and the operator waits for the answer.
const joinDialTimeout = 2 * time.Second

// undoTimeout bounds putting the configuration back after a failed join; it
// runs even when the caller has given up, so that no half-added node stays.
const undoTimeout = 5 * time.Second

// catchUpLimit is how long a new non-voter gets to apply the log up to its
// own addition: the replicated state is small (VIPs and members), so a node
// that answers is there within a few election timeouts. Capped below the
// CLI's default 10 s timeout, so the operator hears the outcome.
func (n *Node) catchUpLimit() time.Duration {
	return min(max(5*n.cfg.Timing.Election, 2*time.Second), 6*time.Second)
}

// dialRaft checks that addr accepts connections within timeout
// (Config.DialRaft).
func (n *Node) dialRaft(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if n.cfg.DialRaft != nil {
		return n.cfg.DialRaft(ctx, addr)
	}
	if n.cfg.Transport != nil {
		return nil
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// checkJoiner runs before the configuration changes: the Raft address must
// accept connections and, with Config.ProbeJoiner, the API address must
// answer as node id. Either failure means a typo or a node not started yet,
// and adding it would only add a voter that cannot vote.
func (n *Node) checkJoiner(ctx context.Context, id, raftAddr, apiAddr string) error {
	if err := n.dialRaft(ctx, raftAddr, joinDialTimeout); err != nil {
		return fmt.Errorf("%w: raft address %s does not accept connections (%v); check the address and that raftvip runs there",
			ErrUnreachable, raftAddr, err)
	}
	if n.cfg.ProbeJoiner == nil || apiAddr == "" {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, joinDialTimeout)
	defer cancel()
	st, err := n.cfg.ProbeJoiner(pctx, apiAddr)
	if err != nil {
		return fmt.Errorf("%w: API address %s (%v); check the address and that raftvip runs there", ErrUnreachable, apiAddr, err)
	}
	if st.ID != id {
		return fmt.Errorf("%w: API address %s answers as node %s, not %s", ErrAddressConflict, apiAddr, st.ID, id)
	}
	return nil
}

// addMember adds id at addr as a non-voter, waits until it has caught up,
// then promotes it to voter. A replaced member (old set) is removed first.
// If the node does not catch up the configuration is put back as it was:
// a voter that cannot be reached would raise the quorum for nothing.
func (n *Node) addMember(ctx context.Context, op, id string, addr raft.ServerAddress, apiAddr string, old *raft.Server, prev uint64) error {
	sid := raft.ServerID(id)
	if old != nil {
		// prevIndex makes each change fail if the configuration moved meanwhile.
		var rf raft.IndexFuture
		if err := n.await(ctx, func() raft.Future { rf = n.raft.RemoveServer(sid, prev, n.timeout(ctx)); return rf }); err != nil {
			return wrapWrite(op+": remove old address", "raftvip members", err)
		}
		prev = rf.Index()
	}
	// A new replication stream starts with no failures, so raft never says
	// "resumed" for it: forget what an earlier stream to this ID reported.
	n.forgetPeer(id)
	var af raft.IndexFuture
	if err := n.await(ctx, func() raft.Future { af = n.raft.AddNonvoter(sid, addr, prev, n.timeout(ctx)); return af }); err != nil {
		return n.undoJoin(wrapWrite(op+": add as non-voter", "raftvip members", err), id, old)
	}
	if err := n.awaitCatchUp(ctx, id, apiAddr, af.Index()); err != nil {
		return n.undoJoin(fmt.Errorf("%s: %w", op, err), id, old)
	}
	if err := n.await(ctx, func() raft.Future { return n.raft.AddVoter(sid, addr, af.Index(), n.timeout(ctx)) }); err != nil {
		return wrapWrite(op+": promote to voter", "raftvip members", err)
	}
	return nil
}

// undoJoin removes the non-voter id again and re-adds the member it replaced,
// under its own deadline; it returns cause with the outcome.
func (n *Node) undoJoin(cause error, id string, old *raft.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), undoTimeout)
	defer cancel()
	err := n.await(ctx, func() raft.Future { return n.raft.RemoveServer(raft.ServerID(id), 0, undoTimeout) })
	if err == nil && old != nil {
		err = n.await(ctx, func() raft.Future { return n.raft.AddVoter(old.ID, old.Address, 0, undoTimeout) })
	}
	if err != nil {
		n.log.Error("cannot undo a failed join", "id", id, "err", err)
		return fmt.Errorf("%w; putting the configuration back failed too (%v): check `raftvip members` and remove %s with `raftvip leave %s`",
			cause, err, id, id)
	}
	n.log.Warn("join undone", "id", id, "err", cause)
	if old != nil {
		return fmt.Errorf("%w; nothing changed: %s stays at %s", cause, id, old.Address)
	}
	return fmt.Errorf("%w; it was removed again, nothing changed", cause)
}

// awaitCatchUp waits, at most catchUpLimit, until the non-voter id has
// applied the log up to index. With Config.ProbeJoiner that is what the
// node reports; without, the leader's heartbeats to it must go unanswered
// for none of a quiet period (raft keeps a follower's match index private).
func (n *Node) awaitCatchUp(ctx context.Context, id, apiAddr string, index uint64) error {
	limit := n.catchUpLimit()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	tick := time.NewTicker(min(max(n.cfg.Timing.Heartbeat/5, 10*time.Millisecond), 200*time.Millisecond))
	defer tick.Stop()
	quietUntil := time.Now().Add(2 * n.cfg.Timing.Heartbeat)
	probe := n.cfg.ProbeJoiner
	last := errors.New("no answer yet")
	for {
		switch {
		case n.peerUnreachable(id):
			last = errors.New("the leader's heartbeats to it fail")
		case probe != nil && apiAddr != "":
			st, err := probe(ctx, apiAddr)
			switch {
			case err != nil:
				last = err
			case st.AppliedIndex >= index:
				return nil
			default:
				last = fmt.Errorf("it has applied the log to index %d of %d", st.AppliedIndex, index)
			}
		case !time.Now().Before(quietUntil):
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s did not catch up with the leader's log within %s: %v", ErrUnreachable, id, limit, last)
		case <-tick.C:
		}
	}
}

// peerUnreachable reports whether this leader's heartbeats to id fail.
func (n *Node) peerUnreachable(id string) bool {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	return n.health.unreachable[id]
}

func (n *Node) forgetPeer(id string) {
	n.health.mu.Lock()
	defer n.health.mu.Unlock()
	delete(n.health.unreachable, id)
}
