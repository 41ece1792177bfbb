package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/raftvip/raftvip/internal/shell"
)

// ErrTimeout is in the chain of a probe that did not finish within the
// check's timeout.
var ErrTimeout = errors.New("timed out")

// maxBody bounds how much of an HTTP response is read before closing it.
const maxBody = 64 << 10

// Prober runs one probe. A nil error means healthy. Probe returns when the
// check's timeout passes or ctx ends, whichever is first.
type Prober interface {
	Probe(ctx context.Context) error
}

// NewProber returns the prober for c's kind. c must be valid.
func NewProber(c Check) (Prober, error) {
	var probe func(context.Context) error
	switch c.Kind() {
	case KindExec:
		probe = execProbe(c.Exec)
	case KindHTTP:
		probe = httpProbe(c.HTTP, c.Status)
	case KindTCP:
		probe = tcpProbe(c.TCP)
	case KindInterface:
		probe = linkProbe(c.Interface)
	default:
		return nil, fmt.Errorf("check %q: no probe: set one of exec, http, tcp, interface", c.Name)
	}
	return timed{timeout: c.Timeout, probe: probe}, nil
}

// timed runs probe under timeout and turns running out of it into
// ErrTimeout, so that the reason reads "timed out after 1s", not a
// probe-specific "context deadline exceeded" or "signal: killed".
type timed struct {
	timeout time.Duration
	probe   func(context.Context) error
}

func (t timed) Probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeoutCause(ctx, t.timeout, ErrTimeout)
	defer cancel()
	err := t.probe(ctx)
	if err != nil && errors.Is(context.Cause(ctx), ErrTimeout) {
		return fmt.Errorf("%w after %s", ErrTimeout, t.timeout)
	}
	return err
}

// execProbe runs a command line; exit 0 is healthy. When ctx ends its whole
// process group is killed.
func execProbe(cmdline string) func(context.Context) error {
	return func(ctx context.Context) error {
		out, err := shell.Run(ctx, cmdline, os.Environ())
		if err != nil && out != "" {
			return fmt.Errorf("%w: %s", err, out)
		}
		return err
	}
}

// httpProbe GETs url and expects status. It follows no redirect: a 302 to a
// login page is not the service saying it is healthy.
func httpProbe(url string, status int) func(context.Context) error {
	client := &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// A fresh connection per probe, as a new client would open, and no
		// proxy from the environment: the check is of this host's service.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "raftvip-health")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
		if resp.StatusCode != status {
			return fmt.Errorf("GET %s: status %d, want %d", url, resp.StatusCode, status)
		}
		return nil
	}
}

// tcpProbe connects to addr (host:port); an accepted connection is healthy.
func tcpProbe(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// linkProbe checks that an interface is administratively up and has carrier
// (IFF_RUNNING). A missing interface is failing.
func linkProbe(name string) func(context.Context) error {
	return func(context.Context) error {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return fmt.Errorf("interface %s: %w", name, err)
		}
		return linkState(name, ifi.Flags)
	}
}

// linkState judges an interface's flags.
func linkState(name string, f net.Flags) error {
	switch {
	case f&net.FlagUp == 0:
		return fmt.Errorf("interface %s is down", name)
	case f&net.FlagRunning == 0:
		return fmt.Errorf("interface %s has no carrier", name)
	}
	return nil
}
