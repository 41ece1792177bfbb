package agent

import (
	"errors"
	"fmt"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
	"github.com/raftvip/raftvip/internal/notify"
)

// HA is what keepalived operators know as priority, preempt and notify
// scripts (and, with health checks, track_script): local to each node, so
// SIGHUP may reload the hooks without a failover.
type HA struct {
	Priority     int      `yaml:"priority"`
	Preempt      bool     `yaml:"preempt"`
	PreemptDelay Duration `yaml:"preempt-delay"`

	NotifyMaster  string   `yaml:"notify-master"`
	NotifyBackup  string   `yaml:"notify-backup"`
	NotifyFault   string   `yaml:"notify-fault"`
	NotifyStop    string   `yaml:"notify-stop"`
	NotifyTimeout Duration `yaml:"notify-timeout"`

	// Checks are keepalived's track_script and track_interface; file only.
	Checks []health.Check `yaml:"checks"`
}

func defaultHA() HA {
	return HA{Priority: fsm.DefaultPriority, NotifyTimeout: Duration(notify.DefaultTimeout)}
}

func (c HA) validate() error {
	if c.Priority < fsm.MinPriority || c.Priority > fsm.MaxPriority {
		return fmt.Errorf("-priority %d: want %d to %d", c.Priority, fsm.MinPriority, fsm.MaxPriority)
	}
	if c.PreemptDelay < 0 {
		return errors.New("-preempt-delay must not be negative")
	}
	if c.NotifyTimeout <= 0 {
		return fmt.Errorf("-notify-timeout %s: want more than 0", time.Duration(c.NotifyTimeout))
	}
	if _, err := health.Prepare(c.Checks); err != nil {
		return fmt.Errorf("checks: %w", err)
	}
	return nil
}

// hooks returns the notify commands of c.
func (c HA) hooks() notify.Hooks {
	return notify.Hooks{Master: c.NotifyMaster, Backup: c.NotifyBackup, Fault: c.NotifyFault, Stop: c.NotifyStop,
		Timeout: time.Duration(c.NotifyTimeout)}
}
