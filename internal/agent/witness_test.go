package agent

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/raftvip/raftvip/internal/health"
	"github.com/raftvip/raftvip/internal/testutil"
)

func TestWitnessRefusesHoldingSettings(t *testing.T) {
	base := func() Config {
		c := DefaultConfig()
		c.ID, c.RaftAddr, c.HTTPAddr, c.TokenFile, c.InsecurePlaintext = "w1", "198.51.100.10:7000",
			"198.51.100.10:8080", "/etc/raftvip/token", true
		c.Witness = true
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("a plain witness: %v", err)
	}
	tests := []struct {
		flag string
		edit func(*Config)
	}{
		{"-vip", func(c *Config) { c.VIPs = List{"192.0.2.100/24"} }},
		{"-interface", func(c *Config) { c.Interface = "eth0" }},
		{"checks:", func(c *Config) { c.Checks = []health.Check{{Name: "web", TCP: "127.0.0.1:80"}} }},
		{"-notify-master", func(c *Config) { c.NotifyMaster = "true" }},
		{"-notify-backup", func(c *Config) { c.NotifyBackup = "true" }},
		{"-notify-fault", func(c *Config) { c.NotifyFault = "true" }},
	}
	for _, tt := range tests {
		c := base()
		tt.edit(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.flag+" ") || !strings.Contains(err.Error(), "-witness") {
			t.Errorf("witness with %s: %v, want an error naming %s and -witness", tt.flag, err, tt.flag)
		}
		c.Witness = false
		if err := c.Validate(); err != nil && strings.Contains(err.Error(), "-witness") {
			t.Errorf("a VIP host with %s: %v", tt.flag, err)
		}
	}
	c := base()
	c.NotifyStop = "logger stopped"
	if err := c.Validate(); err != nil {
		t.Errorf("a witness's -notify-stop: %v", err)
	}
}

// TestWitnessPartsOpenNoKernelHandle: the production parts of a witness are
// no netlink handle, no packet socket and no LAN prober or watcher, which
// need CAP_NET_ADMIN and CAP_NET_RAW.
func TestWitnessPartsOpenNoKernelHandle(t *testing.T) {
	c := DefaultConfig()
	c.Witness, c.HTTPAddr = true, "127.0.0.1:0"
	p, err := DefaultParts(c, func(string) string { return "" }, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.release()
	if _, ok := p.Binder.(witnessKernel); !ok {
		t.Errorf("Binder is %T, want the witness's", p.Binder)
	}
	if _, ok := p.Announcer.(witnessKernel); !ok {
		t.Errorf("Announcer is %T, want the witness's", p.Announcer)
	}
	if p.Prober != nil || p.Watcher != nil {
		t.Errorf("a witness has a LAN prober (%T) or watcher (%T)", p.Prober, p.Watcher)
	}
	if p.Close != nil {
		t.Error("a witness's parts hold something to close")
	}
	if links, err := p.Links(); err != nil || len(links) != 0 {
		t.Errorf("Links = %v, %v: want none", links, err)
	}
}

// TestWitnessNeverBinds: a witness bootstraps the cluster and so leads
// first, holding nothing; two VIP hosts join, and it hands leadership to
// one of them, which binds. The witness's kernel sees no bind or announce.
func TestWitnessNeverBinds(t *testing.T) {
	c := newTestCluster(t)
	w := c.node(3, func(cfg *Config) {
		cfg.Bootstrap, cfg.Witness, cfg.VIPs, cfg.Interface = true, true, nil, ""
	})
	join := func(cfg *Config) { cfg.Join = List{w.cfg.HTTPAddr} }
	n1, n2 := c.node(1, join), c.node(2, join)
	w.start(t)
	ready(t, w)
	testutil.Eventually(t, testutil.WaitLimit, "the lone witness to say it leads holding nothing", func() bool {
		st := w.agent.node.Status()
		return st.State == "Leader" && strings.Contains(st.Degraded, "witness")
	})
	connect(n1, n2, w)
	n1.start(t)
	n2.start(t)
	ready(t, n1)
	ready(t, n2)
	testutil.Eventually(t, testutil.WaitLimit, "a VIP host to hold the VIP", func() bool { h := holders(c.lan); return h == "n1" || h == "n2" })
	if ev := w.fake.Events(); len(ev) != 0 {
		t.Fatalf("the witness's kernel saw %v", ev)
	}
	testutil.Eventually(t, testutil.WaitLimit, "n1 to list n3 as the witness, the others as voters", func() bool {
		ms := n1.agent.node.Status().Members
		for _, m := range ms {
			if want := map[bool]string{true: "witness", false: "voter"}[m.ID == "n3"]; m.Role != want {
				return false
			}
		}
		return len(ms) == 3
	})
	if v := c.lan.Violations(); len(v) > 0 {
		t.Fatalf("two holders: %v", v)
	}
}
