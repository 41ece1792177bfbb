package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/raftvip/raftvip/cluster"
)

// identifyAttempt bounds one round of asking the -join addresses who they
// are; identifyEvery is the pause between rounds while a cluster forms.
const (
	identifyAttempt = 2 * time.Second
	identifyEvery   = time.Second
)

// becomeMember makes the node a member: it resumes from the data dir,
// bootstraps, or joins, as cluster.PlanStart decides from what the nodes
// -join lists answer. A node with -bootstrap or -bootstrap-expect never
// creates a cluster while one of them is a member of one: it joins that
// cluster instead, so a bootstrap left in a config, or a node whose data dir
// was emptied, cannot fork the cluster.
func (a *Agent) becomeMember(ctx context.Context) error {
	switch {
	case a.node.HasState():
		if a.cfg.Bootstrap || a.cfg.BootstrapExpect > 0 || len(a.cfg.Join) > 0 {
			a.log.Info("data dir holds cluster state: resuming membership; bootstrap and join are not needed")
		}
		return nil
	case !a.cfg.Bootstrap && a.cfg.BootstrapExpect == 0:
		if len(a.cfg.Join) == 0 {
			return nil // waits to be joined by the leader (raftvip join)
		}
		return a.join(ctx)
	}
	wait := a.cfg.BootstrapExpect > 0
	if wait {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(a.cfg.JoinTimeout))
		defer cancel()
	}
	st := a.node.Status()
	self := cluster.Peer{ID: st.ID, RaftAddr: st.RaftAddr}
	said := ""
	for {
		// The others may have formed the cluster with this node in it while it
		// waited: raft then made it a member by replication.
		if a.node.Joined() {
			a.log.Info("joined the cluster: its other members formed it with this node in it")
			return nil
		}
		plan, err := cluster.PlanStart(self, a.cfg.BootstrapExpect, a.identify(ctx))
		if err != nil {
			return fmt.Errorf("forming the cluster: %w", err)
		}
		switch plan.Action {
		case cluster.StartJoin:
			args := []any{"member", plan.Member.ID, "addr", plan.Member.Addr}
			if a.cfg.Bootstrap {
				args = append(args, "hint", "remove bootstrap from this node's config: only a new cluster's first start needs it")
			}
			a.log.Warn("a member of an existing cluster answered: joining it, not bootstrapping a new cluster", args...)
			return a.join(ctx)
		case cluster.StartBootstrap:
			return a.node.BootstrapWith(plan.Servers)
		}
		if plan.Wait != said {
			said = plan.Wait
			a.log.Info("waiting for the cluster to form", "bootstrap_expect", a.cfg.BootstrapExpect, "reason", said)
		}
		if err := a.waitRound(ctx); err != nil {
			return fmt.Errorf("no cluster of %d formed within %s (-join-timeout): %s",
				a.cfg.BootstrapExpect, time.Duration(a.cfg.JoinTimeout), said)
		}
	}
}

// waitRound waits identifyEvery before the next round of questions, or less
// once the node has become a member by replication, or until ctx ends.
func (a *Agent) waitRound(ctx context.Context) error {
	t := time.NewTimer(identifyEvery)
	defer t.Stop()
	poll := time.NewTicker(identifyEvery / 10)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-poll.C:
			if a.node.Joined() {
				return nil
			}
		}
	}
}

// identify asks every -join address, at once, for its node's identity
// (GET /v1/status).
func (a *Agent) identify(ctx context.Context) []cluster.Answer {
	ctx, cancel := context.WithTimeout(ctx, identifyAttempt)
	defer cancel()
	out := make([]cluster.Answer, len(a.cfg.Join))
	var wg sync.WaitGroup
	for i, addr := range a.cfg.Join {
		wg.Go(func() {
			out[i] = cluster.Answer{Addr: addr}
			st, err := a.client.At(addr).Status(ctx)
			if err != nil {
				if certRefused(err) {
					err = errors.Join(err, errors.New("its certificate is not of this node's cluster CA"))
				}
				out[i].Err = err
				return
			}
			out[i].ID, out[i].RaftAddr, out[i].Expect = st.ID, st.RaftAddr, st.BootstrapExpect
			// An older raftvip does not say has_state; a member lists members.
			out[i].Member = st.HasState || len(st.Members) > 0
		})
	}
	wg.Wait()
	return out
}
