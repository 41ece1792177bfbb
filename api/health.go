package api

import (
	"context"
	"net/http"
	"unicode/utf8"

	"github.com/raftvip/raftvip/fsm"
)

// maxFault bounds the fault text a node reports, since it is replicated and
// stored in every node's log.
const maxFault = 512

// HealthReport is the body of POST /v1/health: what node ID reports of its
// own health checks, and its priority. Nodes send it; operators need not.
type HealthReport struct {
	ID       string `json:"id"`
	Healthy  bool   `json:"healthy"`
	Fault    string `json:"fault"`
	Priority int    `json:"priority"`
}

// ReportHealth records r in the cluster (through the leader).
func (c *Client) ReportHealth(ctx context.Context, r HealthReport) error {
	return c.do(ctx, http.MethodPost, "/v1/health", r, nil)
}

func (s *Server) health(_ *http.Request, body []byte) (action, error) {
	var req HealthReport
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := ValidateID("id", req.ID); err != nil {
		return nil, withStatus(http.StatusBadRequest, err)
	}
	if req.Priority < fsm.MinPriority || req.Priority > fsm.MaxPriority {
		return nil, badRequest("priority %d is outside %d..%d", req.Priority, fsm.MinPriority, fsm.MaxPriority)
	}
	if len(req.Fault) > maxFault || !utf8.ValidString(req.Fault) {
		return nil, badRequest("fault must be UTF-8 text of at most %d bytes", maxFault)
	}
	return func(ctx context.Context) error {
		return s.cluster.Apply(ctx, fsm.SetHealth(req.ID, req.Healthy, req.Fault, req.Priority))
	}, nil
}
