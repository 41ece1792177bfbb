package api

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/raftvip/raftvip/cluster"
)

// maxRelay bounds the leader's answer a follower relays; API answers to writes
// are a few hundred bytes.
const maxRelay = 1 << 20

// notLeader handles a write the local node refused with cluster.ErrNotLeader,
// with st from awaitLeader: forward it to the leader once, or say where the
// leader is.
func (s *Server) notLeader(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, err error, st cluster.Status) {
	st = forwardable(st)
	if st.LeaderAPIAddr == "" {
		msg := "not applied: no leader"
		if st.LeaderID != "" {
			// A leader whose SetMember has not reached this node yet.
			msg = fmt.Sprintf("no leader to forward to: the API address of leader %s is not known yet", st.LeaderID)
		}
		s.failWith(w, r, http.StatusServiceUnavailable, errorBody{Error: msg, LeaderID: st.LeaderID}, err)
		return
	}
	if from := r.Header.Get(forwardedHeader); from != "" {
		// Loop guard: the node that forwarded this believed we were the leader.
		// Leadership moved in between; tell the caller where it is now instead
		// of forwarding again, and the client retries there once.
		s.failWith(w, r, http.StatusMisdirectedRequest, errorBody{
			Error:         fmt.Sprintf("not the leader (request forwarded by %s): leader is %s at %s", from, st.LeaderID, st.LeaderAPIAddr),
			LeaderID:      st.LeaderID,
			LeaderAPIAddr: st.LeaderAPIAddr,
		}, err)
		return
	}
	s.forward(ctx, w, r, body, st)
}

// leaderPoll is how often a held write looks for a leader again.
const leaderPoll = 10 * time.Millisecond

// awaitLeader returns the node's status once this node leads, or once it
// names another node as leader with that leader's API address, or as it is
// when s.leaderWait has passed or ctx ended. Holding the write there is what
// makes `raftvip leave` or `vip add`, sent to a follower just after a
// failover, succeed instead of failing for a few hundred milliseconds.
func (s *Server) awaitLeader(ctx context.Context) cluster.Status {
	ctx, cancel := context.WithTimeout(ctx, s.leaderWait)
	defer cancel()
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	for {
		st := s.cluster.Status()
		if st.State == cluster.RoleLeader {
			return st
		}
		if forwardable(st).LeaderAPIAddr != "" {
			return st
		}
		select {
		case <-ctx.Done():
			return st
		case <-t.C:
		}
	}
}

// forwardable is st without a leader when it names this node: the node has
// just refused the write, so leadership is being handed over (Leave of the
// leader does that) or was lost while the write ran, and forwarding to
// ourselves would only trip the loop guard.
func forwardable(st cluster.Status) cluster.Status {
	if st.LeaderID != "" && st.LeaderID == st.ID {
		st.LeaderID, st.LeaderAPIAddr = "", ""
	}
	return st
}

// forwardOutcome says what a forward that got no answer means for the change:
// one that timed out may have reached the leader and been applied.
func forwardOutcome(code int) string {
	if code == http.StatusGatewayTimeout {
		return "; the change may still be applied: check with `raftvip vip ls` or `raftvip members`"
	}
	return ""
}

// forward sends the write to the leader with the caller's token and relays the
// leader's answer, status and body, as it is: the leader has already mapped and
// logged its own errors.
func (s *Server) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte, st cluster.Status) {
	target := baseURL(s.scheme, st.LeaderAPIAddr) + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, target, bytes.NewReader(body))
	if err != nil {
		s.fail(w, r, fmt.Errorf("forward to leader %s: %w", st.LeaderAPIAddr, err))
		return
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	// The header must be non-empty for the leader's loop guard to see it.
	req.Header.Set(forwardedHeader, cmp.Or(st.ID, "unknown"))

	resp, err := s.client.Do(req)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, context.DeadlineExceeded) {
			code = http.StatusGatewayTimeout
		}
		s.failWith(w, r, code, errorBody{
			Error:         oneLine(fmt.Sprintf("forward to leader %s at %s: %v%s", st.LeaderID, st.LeaderAPIAddr, err, forwardOutcome(code))),
			LeaderID:      st.LeaderID,
			LeaderAPIAddr: st.LeaderAPIAddr,
		}, fmt.Errorf("forward to leader %s: %w", st.LeaderAPIAddr, err))
		return
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxRelay))
	if err != nil {
		s.failWith(w, r, http.StatusBadGateway, errorBody{Error: oneLine(fmt.Sprintf("read answer of leader %s: %v", st.LeaderAPIAddr, err))},
			fmt.Errorf("read answer of leader %s: %w", st.LeaderAPIAddr, err))
		return
	}
	for _, h := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate", "Allow"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}
