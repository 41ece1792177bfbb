package agent

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/raftvip/raftvip/api"
	"github.com/raftvip/raftvip/fsm"
)

// linkRefresh is how long the link list of the health report is reused: the
// cluster asks on every pass of its loop (a few times a second), and a
// changed list costs a log entry, so a host whose links come and go (one
// veth per container) reports at most once per period.
const linkRefresh = 5 * time.Second

// linkCache lists this host's interfaces for the health report
// (cluster.Config.Links), at most once per linkRefresh.
type linkCache struct {
	list func() ([]string, error) // Parts.Links
	now  func() time.Time

	mu    sync.Mutex
	at    time.Time
	names []string
}

func newLinkCache(list func() ([]string, error)) *linkCache {
	return &linkCache{list: list, now: time.Now}
}

// links returns the sorted link names, or nil, which the cluster reads as
// "not reported" and holds against no VIP: when the list cannot be read,
// when the host has more than a report may carry, or when a name is one the
// report's rules refuse (the kernel allows none, but a refused report would
// stop health reports altogether).
func (c *linkCache) links() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if !c.at.IsZero() && now.Sub(c.at) < linkRefresh {
		return c.names
	}
	c.at, c.names = now, nil
	names, err := c.list()
	if err != nil || len(names) > fsm.MaxLinks {
		return nil
	}
	for _, n := range names {
		if fsm.ValidateLinkName(n) != nil {
			return nil
		}
	}
	c.names = slices.Sorted(slices.Values(names))
	return c.names
}

// linksRefused reports whether err is a leader of a release from before
// links were reported refusing the report's links field: its API decodes
// with unknown fields refused. The node then reports without them, so that
// its health still reaches the leader during a rolling upgrade.
func linksRefused(err error) bool {
	var apiErr *api.Error
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest &&
		strings.Contains(apiErr.Message, `unknown field "links"`)
}
