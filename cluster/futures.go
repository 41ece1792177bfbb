package cluster

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// futures owns the goroutines that wait on raft's futures. A raft future
// knows no context and has no channel, so waiting for one under a context
// takes a goroutine, and that goroutine outlives its caller whenever the
// context ends first. Shutdown waits for them (close, then settle).
//
// Why Shutdown stops new operations and lets the pending ones settle before
// it stops raft, instead of after: raft does not answer every future at
// shutdown. A VerifyLeader or leadership transfer still in raft's buffered
// request channels, or a committed entry still queued for the FSM, is
// dropped, and its Error blocks forever. While raft runs, it answers every
// future within its timeouts: a leader that cannot commit steps down after
// its leader lease and fails what it had in flight, a transfer times out
// after an election timeout, a follower refuses at once.
type futures struct {
	mu      sync.Mutex
	closed  bool
	pending int
	idle    chan struct{} // closed when pending drops to 0, if someone waits
}

// start calls op, which asks raft for something, unless the node is shutting
// down, and returns a channel that receives the future's error once raft
// answers (raft.ErrRaftShutdown after close).
func (fs *futures) start(op func() raft.Future) <-chan error {
	done := make(chan error, 1)
	fs.mu.Lock()
	if fs.closed {
		fs.mu.Unlock()
		done <- raft.ErrRaftShutdown
		return done
	}
	fs.pending++
	fs.mu.Unlock()
	// op runs outside the lock: raft may take up to the enqueue timeout.
	f := op()
	go func() {
		done <- f.Error()
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.pending--
		if fs.pending == 0 && fs.idle != nil {
			close(fs.idle)
			fs.idle = nil
		}
	}()
	return done
}

// close makes every later start fail with raft.ErrRaftShutdown.
func (fs *futures) close() {
	fs.mu.Lock()
	fs.closed = true
	fs.mu.Unlock()
}

// settle waits until every started future has been answered, or for limit.
// It returns how many are still pending.
func (fs *futures) settle(limit time.Duration) int {
	fs.mu.Lock()
	if fs.pending == 0 {
		fs.mu.Unlock()
		return 0
	}
	if fs.idle == nil {
		fs.idle = make(chan struct{})
	}
	idle := fs.idle
	fs.mu.Unlock()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-idle:
	case <-t.C:
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.pending
}

// await starts op (futures.start) and waits for its answer or ctx. When ctx
// ends first, the waiting goroutine stays with n.futures until raft answers.
func (n *Node) await(ctx context.Context, op func() raft.Future) error {
	return awaitDone(ctx, n.futures.start(op))
}

// awaitDone waits for a future started with futures.start, or ctx.
func awaitDone(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
