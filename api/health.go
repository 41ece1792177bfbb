package api

import (
	"context"
	"net/http"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
)

// HealthReport is the body of POST /v1/health: what node ID reports of its
// own health checks, and its priority. Nodes send it; operators need not.
type HealthReport struct {
	ID       string `json:"id"`
	Healthy  bool   `json:"healthy"`
	Fault    string `json:"fault"`
	Priority int    `json:"priority"`
	// Witness: the node votes but never holds the VIPs.
	Witness bool `json:"witness,omitempty"`
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
	if err := fsm.ValidateNodeID("id", req.ID); err != nil {
		return nil, withStatus(http.StatusBadRequest, err)
	}
	// Priority and fault are checked by the rules of the command itself, so a
	// report refused here is refused the same way from the leader's own path.
	cmd := cluster.HealthReport{ID: req.ID, Healthy: req.Healthy, Fault: req.Fault, Priority: req.Priority,
		Witness: req.Witness}.Command()
	if err := cmd.Validate(); err != nil {
		return nil, withStatus(http.StatusBadRequest, err)
	}
	return func(ctx context.Context) error { return s.cluster.Apply(ctx, cmd) }, nil
}
