package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Read-your-writes across nodes. A follower applies a committed entry only
// after the leader's next message tells it the entry is committed, so a read
// on another node right after a write could miss it. Two parts close that:
// a write's answer waits, at most settleWait, until the other members have
// applied it (settle), so the CLI used in sequence sees its own change on any
// node; and every read takes ?min_index=N, the index a write answered with,
// and waits until the node has applied it (awaitIndex), for scripts that
// need the guarantee even when a member was slow.
const (
	settleWait   = time.Second
	minIndexWait = 2 * time.Second
	indexPoll    = 5 * time.Millisecond
)

// settle returns this leader's applied index after a write, once every
// other member with a known API address has applied it too, or settleWait
// passed: a member that is down must not hold up the answer.
func (s *Server) settle(ctx context.Context) uint64 {
	st := s.cluster.Status()
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	query := "/v1/members?min_index=" + strconv.FormatUint(st.AppliedIndex, 10)
	var wg sync.WaitGroup
	for _, m := range st.Members {
		if m.ID == st.ID || m.APIAddr == "" {
			continue
		}
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL(s.scheme, m.APIAddr)+query, nil)
			if err != nil {
				return
			}
			resp, err := s.client.Do(req)
			if err != nil {
				return // down or slow: the answer's index still lets a reader wait
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxRelay))
			resp.Body.Close()
		})
	}
	wg.Wait()
	return st.AppliedIndex
}

// awaitIndex waits, at most minIndexWait, until this node has applied the
// log up to the request's ?min_index (none: at once).
func (s *Server) awaitIndex(r *http.Request) error {
	raw := r.URL.Query().Get("min_index")
	if raw == "" {
		return nil
	}
	want, err := strconv.ParseUint(raw, 10, 64)
	if err != nil {
		return badRequest("min_index %q is not a log index (a write's \"index\")", raw)
	}
	ctx, cancel := context.WithTimeout(r.Context(), minIndexWait)
	defer cancel()
	tick := time.NewTicker(indexPoll)
	defer tick.Stop()
	for {
		applied := s.cluster.Status().AppliedIndex
		if applied >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return withStatus(http.StatusServiceUnavailable, fmt.Errorf(
				"this node has applied the log to index %d, not yet min_index %d: it lags the leader; try again or read from the leader",
				applied, want))
		case <-tick.C:
		}
	}
}
