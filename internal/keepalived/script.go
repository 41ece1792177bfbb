package keepalived

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
)

const second = time.Second

// script turns a vrrp_script block into an exec check with keepalived's
// defaults written out: interval 1s, timeout = interval, rise 1, fall 1
// (keepalived's vrrp_data.c alloc_vrrp_script; a zero timeout means the
// interval, vrrp_scheduler.c).
func (t *translator) script(s *Node) (health.Check, bool) {
	c := health.Check{Name: s.Args[0], Interval: second, Rise: 1, Fall: 1}
	for _, n := range s.Children {
		switch n.Keyword {
		case "script":
			c.Exec = t.command(n)
		case "interval", "timeout":
			if d, ok := t.timer(n); ok && n.Keyword == "interval" {
				c.Interval = d
			} else if ok {
				c.Timeout = d
			}
		case "rise", "fall":
			t.riseFall(n, &c)
		case "weight":
			if len(n.Args) > 0 && n.Args[0] != "0" {
				t.untranslated(n, "raftvip has no priority weights: a failing check makes the node hand the VIPs over instead of lowering its priority")
			}
		case "user":
			t.untranslated(n, "raftvip runs checks as the agent's user; "+switchUser)
		case "init_fail":
			t.untranslated(n, "raftvip decides a check's initial state itself; see the checks documentation")
		default:
			t.untranslated(n, "not known to the importer")
		}
	}
	if c.Exec == "" {
		t.untranslated(s, "no script: keepalived drops this vrrp_script too")
		return health.Check{}, false
	}
	if signalsOthers(c.Exec) {
		t.note(s, "kill -0 on a process of another user (haproxy, nginx ...) fails under the agent's unit, which has no CAP_KILL: "+
			"use pidof NAME, or add CAP_KILL to the unit in a drop-in (CapabilityBoundingSet=CAP_KILL)")
	}
	if c.Timeout == 0 || c.Timeout > c.Interval {
		// raftvip wants 0 < timeout <= interval; keepalived lets a run take
		// longer than the interval, but skips runs while one is going.
		if c.Timeout > c.Interval {
			t.note(s, fmt.Sprintf("timeout %s is longer than interval %s: raftvip wants timeout <= interval, so the timeout is %s", c.Timeout, c.Interval, c.Interval))
		}
		c.Timeout = c.Interval
	}
	return c, true
}

// signalsOthers reports whether cmd probes a process with signal 0, the
// keepalived idiom "killall -0 haproxy".
func signalsOthers(cmd string) bool {
	f := strings.Fields(cmd)
	for i := 0; i+1 < len(f); i++ {
		if base := f[i][strings.LastIndexByte(f[i], '/')+1:]; (base == "kill" || base == "killall") && f[i+1] == "-0" {
			return true
		}
	}
	return false
}

func (t *translator) riseFall(n *Node, c *health.Check) {
	v, ok := t.oneArg(n)
	if !ok {
		return
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		t.untranslated(n, fmt.Sprintf("%q is not a count", v))
		return
	}
	i = max(i, 1) // keepalived treats less than 1 as 1
	if n.Keyword == "rise" {
		c.Rise = i
	} else {
		c.Fall = i
	}
}

// command is the script's command line. A quoted script keeps its arguments
// as written; unquoted words are joined. raftvip runs it with /bin/sh -c,
// keepalived without a shell, which matters only for shell syntax.
func (t *translator) command(n *Node) string {
	if len(n.Args) == 0 {
		return ""
	}
	words := make([]string, len(n.Args))
	for i, a := range n.Args {
		words[i] = a
		if len(n.Args) > 1 && strings.ContainsAny(a, " \t'\"") {
			words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	cmd := strings.Join(words, " ")
	if strings.ContainsAny(cmd, "$`;|&<>*?()") {
		t.note(n, "raftvip runs the command with /bin/sh -c, keepalived without a shell: check the shell characters in it")
	}
	return cmd
}

// vip parses w as a VIP address. ok is false when w is no address at all;
// then it is an option. An address raftvip refuses is recorded and
// returned empty.
func (t *translator) vip(n *Node, w string) (VIP, bool) {
	var out VIP
	p, err := netip.ParsePrefix(w)
	if err != nil {
		a, aerr := netip.ParseAddr(w)
		if aerr != nil {
			return VIP{}, false
		}
		// keepalived, like ip address add, takes a bare address as a host
		// address: /32 or /128.
		p = netip.PrefixFrom(a, a.BitLen())
		out.Comment = fmt.Sprintf("keepalived's default for %s without a prefix length is /%d, kept", w, a.BitLen())
	}
	if err := fsm.ValidateVIP(fsm.VIP{Prefix: p}); err != nil {
		t.untranslated(n, fmt.Sprintf("raftvip refuses VIP %s: %v", w, err))
		return VIP{}, true
	}
	out.CIDR = p.String()
	return out, true
}

// untrackedScripts lists the vrrp_scripts no instance tracks: keepalived
// runs them but nothing depends on their result.
func (t *translator) untrackedScripts(nodes []*Node) {
	for _, n := range nodes {
		if n.Keyword == "vrrp_script" && len(n.Args) == 1 && !t.tracked[n.Args[0]] {
			t.note(n, "no vrrp_instance tracks it, so it decides nothing: not translated")
		}
	}
}
