package main

import (
	"errors"
	"flag"
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
	PreemptDelay duration `yaml:"preempt-delay"`

	NotifyMaster  string   `yaml:"notify-master"`
	NotifyBackup  string   `yaml:"notify-backup"`
	NotifyFault   string   `yaml:"notify-fault"`
	NotifyStop    string   `yaml:"notify-stop"`
	NotifyTimeout duration `yaml:"notify-timeout"`

	// Checks are keepalived's track_script and track_interface; file only.
	Checks []health.Check `yaml:"checks"`
}

func defaultHA() HA {
	return HA{Priority: fsm.DefaultPriority, NotifyTimeout: duration(notify.DefaultTimeout)}
}

func haFlags(fs *flag.FlagSet, c *HA) {
	fs.IntVar(&c.Priority, "priority", c.Priority, "preference as leader, 1-255; see -preempt")
	fs.BoolVar(&c.Preempt, "preempt", c.Preempt, "let a healthy node of higher priority take leadership over (set it alike on every node)")
	fs.Var(&c.PreemptDelay, "preempt-delay", "how long a node of higher priority must have been ready before it preempts")
	fs.StringVar(&c.NotifyMaster, "notify-master", c.NotifyMaster, "command (run by /bin/sh -c) when this node starts holding the VIPs")
	fs.StringVar(&c.NotifyBackup, "notify-backup", c.NotifyBackup, "command when this node stops holding the VIPs")
	fs.StringVar(&c.NotifyFault, "notify-fault", c.NotifyFault, "command when this node's health checks start failing")
	fs.StringVar(&c.NotifyStop, "notify-stop", c.NotifyStop, "command when the agent stops")
	fs.Var(&c.NotifyTimeout, "notify-timeout", "a notify command still running after this is killed")
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
