package agent

import (
	"errors"
	"fmt"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/internal/ui"
)

// validateUI checks -ui-addr and -ui-token-file.
func (c Config) validateUI() error {
	if c.UIAddr == "" {
		if c.UITokenFile != "" {
			return errors.New("-ui-token-file needs -ui-addr: without it no status page is served")
		}
		return nil
	}
	if err := checkHostPort("-ui-addr", c.UIAddr); err != nil {
		return err
	}
	if c.UIAddr == c.HTTPAddr || c.UIAddr == c.MonitorAddr {
		return fmt.Errorf("-ui-addr %s is -http-addr or -monitor-addr: the status page needs a port of its own", c.UIAddr)
	}
	return nil
}

// newStatusPage reads -ui-token-file, refuses the cluster token as the
// page's token, and prepares the status page (-ui-addr) on the parts' UI
// listener; nil without -ui-addr. Called before Raft is opened, so that a bad
// token file is reported before the data dir is touched; the page reads the
// node only once Run serves it.
func (a *Agent) newStatusPage() (*ui.Server, error) {
	if a.cfg.UIAddr == "" {
		return nil, nil
	}
	var token []byte
	if a.cfg.UITokenFile != "" {
		var err error
		if token, err = ReadToken(a.cfg.UITokenFile, a.log); err != nil {
			return nil, fmt.Errorf("-ui-token-file: %w", err)
		}
	}
	page, err := ui.New(ui.Config{
		Source:       ui.SourceFunc(func() cluster.Status { return a.node.Status() }),
		Token:        token,
		ClusterToken: a.token,
		Logger:       a.log,
	})
	if err != nil {
		return nil, fmt.Errorf("-ui-token-file %s: %w", a.cfg.UITokenFile, err)
	}
	// Plain HTTP with the connection cap, like the monitor: a wall screen
	// has no cluster certificate.
	a.uiLn = apiListener(a.parts.UI, nil)
	return page, nil
}
