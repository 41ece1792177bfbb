// Package health runs a node's health checks (keepalived's vrrp_script,
// track_script and track_interface) and reports whether the node is fit to
// hold the VIPs.
package health

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The kinds of check; CheckStatus.Kind holds one of them.
const (
	KindExec      = "exec"
	KindHTTP      = "http"
	KindTCP       = "tcp"
	KindInterface = "interface"
)

// Defaults applied by WithDefaults (keepalived's vrrp_script uses rise and
// fall of 1 by default; 2 rides out one lost probe without flapping).
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second
	DefaultRise     = 2
	DefaultFall     = 2
	DefaultStatus   = 200
)

// maxIfName is IFNAMSIZ minus the terminating NUL.
const maxIfName = 15

// Check is one health check from the config file's checks list. Exactly one
// of Exec, HTTP, TCP and Interface is set.
type Check struct {
	Name string `yaml:"name"`

	Exec      string `yaml:"exec"`      // run with /bin/sh -c; exit 0 is healthy
	HTTP      string `yaml:"http"`      // GET this URL; Status is healthy
	Status    int    `yaml:"status"`    // expected HTTP status, http only
	TCP       string `yaml:"tcp"`       // host:port; a connection is healthy
	Interface string `yaml:"interface"` // link up and RUNNING (carrier) is healthy

	Interval time.Duration `yaml:"interval"`
	Timeout  time.Duration `yaml:"timeout"` // > 0 and <= Interval
	Rise     int           `yaml:"rise"`    // successes before a failing check is healthy
	Fall     int           `yaml:"fall"`    // failures before a healthy check is failing
}

// Kind names the check's probe (KindExec …), or "" when none or several of
// Exec, HTTP, TCP and Interface are set.
func (c Check) Kind() string {
	kinds := c.kinds()
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

func (c Check) kinds() []string {
	var k []string
	for _, f := range []struct{ kind, value string }{
		{KindExec, c.Exec}, {KindHTTP, c.HTTP}, {KindTCP, c.TCP}, {KindInterface, c.Interface},
	} {
		if strings.TrimSpace(f.value) != "" {
			k = append(k, f.kind)
		}
	}
	return k
}

// WithDefaults fills the unset fields. The default timeout is capped at the
// interval, so that "interval: 500ms" alone is a valid check.
func (c Check) WithDefaults() Check {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval)
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	if c.Status == 0 && c.HTTP != "" {
		c.Status = DefaultStatus
	}
	return c
}

// Validate checks one check (after WithDefaults) and names the check and the
// field in its error.
func (c Check) Validate() error {
	if c.Name == "" {
		return errors.New("check: name is required")
	}
	if err := c.validate(); err != nil {
		return fmt.Errorf("check %q: %w", c.Name, err)
	}
	return nil
}

func (c Check) validate() error {
	if !validName(c.Name) {
		return errors.New("name must match [a-z0-9_-]+")
	}
	switch kinds := c.kinds(); len(kinds) {
	case 0:
		return errors.New("no probe: set one of exec, http, tcp, interface")
	case 1:
	default:
		return fmt.Errorf("has %s: set exactly one of exec, http, tcp, interface", strings.Join(kinds, " and "))
	}
	if err := c.validateProbe(); err != nil {
		return err
	}
	switch {
	case c.Interval <= 0:
		return fmt.Errorf("interval %s must be positive", c.Interval)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout %s must be positive", c.Timeout)
	case c.Timeout > c.Interval:
		return fmt.Errorf("timeout %s is longer than interval %s", c.Timeout, c.Interval)
	case c.Rise < 1:
		return fmt.Errorf("rise %d must be at least 1", c.Rise)
	case c.Fall < 1:
		return fmt.Errorf("fall %d must be at least 1", c.Fall)
	}
	return nil
}

// validName allows [a-z0-9_-]+: names end up in logs, the API and hook
// environment, so they stay plain.
func validName(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return s != ""
}

func (c Check) validateProbe() error {
	if c.Status != 0 && c.HTTP == "" {
		return fmt.Errorf("status %d is for http checks only", c.Status)
	}
	switch {
	case c.HTTP != "":
		return validateURL(c.HTTP, c.Status)
	case c.TCP != "":
		return validateHostPort(c.TCP)
	case c.Interface != "":
		if len(c.Interface) > maxIfName || strings.ContainsAny(c.Interface, "/ \t") {
			return fmt.Errorf("interface %q is not a valid interface name", c.Interface)
		}
	}
	return nil
}

func validateURL(raw string, status int) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("http %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("http %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("http %q: no host", raw)
	}
	if status < 100 || status > 599 {
		return fmt.Errorf("status %d is not an HTTP status code (100-599)", status)
	}
	return nil
}

func validateHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("tcp %q: want host:port: %w", addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("tcp %q: port %q is not a number from 1 to 65535", addr, port)
	}
	return nil
}

// Prepare fills the unset fields of every check (WithDefaults) and validates
// each and that their names are unique. It returns the checks as they run:
// the config loader and the Monitor both call it, so the file is refused on
// the same rules the Monitor applies.
func Prepare(checks []Check) ([]Check, error) {
	full := make([]Check, len(checks))
	seen := make(map[string]bool, len(checks))
	for i, c := range checks {
		c = c.WithDefaults()
		if err := c.Validate(); err != nil {
			if c.Name == "" {
				return nil, fmt.Errorf("checks[%d]: %w", i, err)
			}
			return nil, err
		}
		if seen[c.Name] {
			return nil, fmt.Errorf("check %q: name is used twice", c.Name)
		}
		seen[c.Name] = true
		full[i] = c
	}
	return full, nil
}
