package cluster

import (
	"context"
	"sync"
	"time"
)

// reachableSuccession is succession with the voters whose Raft port does not
// answer passed over. A newly elected leader has no heartbeat failures to go
// by yet, and raft keeps a transfer to a host that does not answer going for
// its whole connection timeout (10 s), refusing every other transfer
// meanwhile: a leader (or a witness) elected because the holder's host was
// lost would otherwise try that host first. So when succession names a
// target, every eligible voter is dialled at once, and the decision is taken
// again without those that did not answer.
func (n *Node) reachableSuccession(ctx context.Context, in successionInput) decision {
	if d := succession(in); d.Target == "" {
		return d
	}
	n.passOverUnreachable(ctx, &in)
	return succession(in)
}

// passOverUnreachable adds to in.excluded the eligible voters whose Raft
// address does not accept a connection within the election timeout
// (dialRaft), or, once another has, within dialGrace. The exclusion is for
// this decision only: the next one dials again.
func (n *Node) passOverUnreachable(ctx context.Context, in *successionInput) {
	ctx, cancel := context.WithCancel(ctx)
	type answer struct {
		id string
		ok bool
	}
	answers := make(chan answer)
	var wg sync.WaitGroup
	// Cancel first: the dials still running then end at once, and a dial
	// that finishes after the wait below is over gives up its answer.
	defer func() {
		cancel()
		wg.Wait()
	}()
	asked := map[string]bool{}
	for _, id := range in.voters {
		if !in.eligible(id) {
			continue
		}
		s, ok := n.server(id)
		if !ok {
			continue
		}
		asked[id] = true
		wg.Go(func() {
			err := n.dialRaft(ctx, string(s.Address), n.cfg.Timing.Election)
			select {
			case answers <- answer{id, err == nil}:
			case <-ctx.Done():
			}
		})
	}
	// A live voter on the LAN answers within a millisecond or two, while a
	// lost one takes the whole election timeout to give up: once one has
	// answered, the others get a short grace, and whoever has not answered
	// by then is passed over this time. Waiting for every dial made an
	// elected witness hand over a whole election timeout late.
	var grace <-chan time.Time
	for len(asked) > 0 {
		select {
		case a := <-answers:
			delete(asked, a.id)
			if !a.ok {
				n.passOver(in, a.id, "does not accept a connection")
			} else if grace == nil {
				grace = time.After(dialGrace)
			}
			continue
		case <-grace:
		case <-ctx.Done():
		}
		break
	}
	for id := range asked {
		n.passOver(in, id, "did not answer in time")
	}
}

// passOver excludes voter id from this decision, and says so once per
// repeatWindow.
func (n *Node) passOver(in *successionInput, id, why string) {
	in.excluded[id] = true
	if ok, more, _ := n.passedOver.admit(id+why, time.Now()); ok {
		n.log.Warn("passing leadership over a voter whose Raft address "+why, "id", id, "repeats", more)
	}
}

// dialGrace is how long a leader choosing a successor waits for the other
// voters' Raft ports once one has answered (passOverUnreachable).
const dialGrace = 10 * time.Millisecond
