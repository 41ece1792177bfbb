package keepalived

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/health"
)

// instance translates one statement inside a vrrp_instance block.
func (t *translator) instance(n *Node) {
	switch n.Keyword {
	case "interface":
		if v, ok := t.oneArg(n); ok {
			t.set("interface", v, n, false)
		}
	case "virtual_ipaddress", "virtual_ipaddress_excluded":
		for _, c := range n.Children {
			t.vipLine(c)
		}
	case "priority":
		t.setInt("priority", n, fsm.MinPriority, fsm.MaxPriority, false)
	case "nopreempt", "no_preempt":
		t.set("preempt", "false", n, false)
	case "preempt":
		t.set("preempt", "true", n, false)
	case "preempt_delay":
		t.setSeconds("preempt-delay", n, false)
	case "notify_master", "notify_backup", "notify_fault", "notify_stop":
		t.notify(n)
	case "notify":
		t.untranslated(n, "raftvip hooks get no arguments: they read RAFTVIP_EVENT (master, backup, fault or stop) and RAFTVIP_VIPS from the environment; "+
			"call the script from notify-master, notify-backup, notify-fault and notify-stop with the arguments it expects, e.g. notify-master: \""+notifyExample(n)+"\"")
	case "track_script":
		t.trackScripts(n)
	case "track_interface":
		t.trackInterfaces(n)
	case "garp_master_delay":
		t.setSeconds("garp-repeat", n, false)
	case "garp_master_repeat":
		t.setInt("garp-count", n, 1, 100, false)
	case "garp_master_refresh":
		t.setSeconds("garp-refresh", n, false)
	default:
		t.instanceOther(n)
	}
}

// instanceOther covers the instance keywords with no raftvip key.
func (t *translator) instanceOther(n *Node) {
	switch n.Keyword {
	case "state":
		t.note(n, "raftvip elects the holder with Raft; the initial state is not configured (harmless)")
	case "virtual_router_id":
		t.note(n, "no VRRP: raftvip needs no router ID (harmless)")
	case "authentication":
		t.note(n, "raftvip authenticates API writes and joins with the cluster token of token-file")
	case "advert_int":
		t.advert(n)
	case "unicast_peer":
		t.unicastPeers(n)
	case "unicast_src_ip":
		t.unicastSrc(n)
	case "mcast_src_ip", "version", "native_ipv6", "strict_mode", "vrrp_strict",
		"skip_check_adv_addr", "accept", "no_accept", "debug", "dont_track_primary", "lower_prio_no_advert",
		"higher_prio_send_advert", "garp_lower_prio_delay", "garp_lower_prio_repeat", "check_unicast_src":
		t.note(n, "a VRRP protocol setting; raftvip speaks Raft between its nodes (harmless)")
	case "promote_secondaries":
		t.note(n, "raftvip does not set it: a VIP in the primary address's subnet is flushed with the primary unless net.ipv4.conf.<if>.promote_secondaries=1; a /32 VIP avoids this")
	case "use_vmac", "vmac_xmit_base", "use_ipvlan":
		t.untranslated(n, "raftvip announces VIPs with the interface's own MAC; there is no virtual MAC")
	case "track_file", "track_process", "track_bfd":
		t.untranslated(n, "raftvip checks are exec, http, tcp or interface: write an exec check that tests the same thing")
	case "virtual_routes", "virtual_rules":
		t.untranslated(n, "raftvip moves addresses only, not routes or rules: add them from a notify-master hook and remove them from notify-backup")
	case "smtp_alert":
		t.untranslated(n, "raftvip sends no mail: send it from a notify hook")
	default:
		t.untranslated(n, "not known to the importer")
	}
}

// switchUser is the advice for a script keepalived ran as another user. The
// agent's unit (deploy/raftvip.service) runs it as root with only
// CAP_NET_ADMIN and CAP_NET_RAW, so sudo -u and runuser fail there.
const switchUser = "the agent's unit cannot switch users: make the command work as root without capabilities, " +
	"or add CAP_SETUID CAP_SETGID to the unit in a drop-in (CapabilityBoundingSet=) and use runuser -u USER -- COMMAND"

// notify translates notify_master and friends. Words after the script are
// the user and group to run it as (keepalived.conf(5)).
func (t *translator) notify(n *Node) {
	if len(n.Args) == 0 {
		t.untranslated(n, "no script given")
		return
	}
	key := "notify-" + strings.TrimPrefix(n.Keyword, "notify_")
	t.set(key, n.Args[0], n, false)
	if len(n.Args) > 1 {
		t.untranslated(n, fmt.Sprintf("runs as user %s: raftvip runs hooks as the agent's user; %s", strings.Join(n.Args[1:], " "), switchUser))
	}
}

// notifyExample shows how to call a generic notify script the way
// keepalived does: script INSTANCE name MASTER priority.
func notifyExample(n *Node) string {
	script := "/path/to/notify.sh"
	if len(n.Args) > 0 {
		script = n.Args[0]
	}
	return script + " INSTANCE VI_1 MASTER 100"
}

func (t *translator) advert(n *Node) {
	d, ok := t.timer(n)
	if !ok {
		return
	}
	// keepalived declares the master dead after about 3 adverts; raftvip's
	// lan profile fails over in well under a second, fast in about a
	// quarter of one (cluster/timing.go).
	if d <= 100*time.Millisecond {
		t.untranslated(n, "sub-100ms adverts: set timing: fast for raftvip's quickest failover")
		return
	}
	t.note(n, "raftvip's default timing profile (lan) fails over in under a second; set timing: fast for a quicker one")
}

func (t *translator) unicastPeers(n *Node) {
	var peers []string
	for _, c := range n.Children {
		peers = append(peers, c.Keyword+":8080")
	}
	t.note(n, fmt.Sprintf("raftvip nodes find each other by join: on all but the first node set join: [%s] (their http-addr)", strings.Join(peers, ", ")))
	t.pairPeers(n)
}

// global translates one statement of global_defs.
func (t *translator) global(n *Node) {
	switch n.Keyword {
	case "vrrp_garp_master_delay":
		t.setSeconds("garp-repeat", n, true)
	case "vrrp_garp_master_repeat":
		t.setInt("garp-count", n, 1, 100, true)
	case "vrrp_garp_master_refresh":
		t.setSeconds("garp-refresh", n, true)
	case "vrrp_garp_interval", "vrrp_gna_interval":
		t.setSeconds("garp-interval", n, true)
	case "router_id":
		t.note(n, "set raftvip's id (each node's unique name) instead")
	case "notification_email", "notification_email_from", "smtp_server", "smtp_connect_timeout", "smtp_helo_name":
		t.note(n, "raftvip sends no mail; send it from a notify hook if you relied on smtp_alert")
	case "script_user":
		t.untranslated(n, "raftvip runs checks and hooks as the agent's user; "+switchUser)
	case "enable_script_security", "vrrp_skip_check_adv_addr", "vrrp_strict", "vrrp_mcast_group4", "vrrp_mcast_group6",
		"vrrp_version", "vrrp_iptables", "vrrp_check_unicast_src", "vrrp_garp_lower_prio_delay", "vrrp_garp_lower_prio_repeat",
		"vrrp_garp_master_refresh_repeat", "vrrp_lower_prio_no_advert", "vrrp_higher_prio_send_advert", "vrrp_priority",
		"vrrp_no_swap", "max_auto_priority", "lvs_id", "dynamic_interfaces":
		t.note(n, "a keepalived process or VRRP setting with no raftvip equivalent (harmless)")
	default:
		t.untranslated(n, "global setting not known to the importer")
	}
}

// syncGroup translates a vrrp_sync_group. Its point, moving the instances'
// VIPs together, is what raftvip always does with its one VIP set.
func (t *translator) syncGroup(g *Node, instances int) {
	t.note(g, fmt.Sprintf("raftvip has one VIP set per cluster: the VIPs of the %d instances were merged and move together, as in a sync group", instances))
	for _, c := range g.Children {
		switch c.Keyword {
		case "group":
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify", "track_script", "track_interface", "smtp_alert", "track_file", "track_process", "track_bfd":
			t.instance(c)
		case "global_tracking", "sync_group_tracking_weight":
			t.note(c, "raftvip has no weights (harmless without them)")
		default:
			t.untranslated(c, "not known to the importer")
		}
	}
}

// vipLine translates one line of virtual_ipaddress: addresses, each followed
// by options as for ip address add. An address token starts a new VIP, so
// one-line blocks with several addresses work too.
func (t *translator) vipLine(n *Node) {
	words := append([]string{n.Keyword}, n.Args...)
	for i := 0; i < len(words); i++ {
		w := words[i]
		if vip, ok := t.vip(n, w); ok {
			if vip.CIDR != "" {
				t.addVIP(vip)
			}
			continue
		}
		if i+1 < len(words) && vipValueOption(w) {
			i++
			t.vipOption(n, w, words[i])
			continue
		}
		t.vipOption(n, w, "")
	}
}

func (t *translator) addVIP(vip VIP) {
	for _, v := range t.VIPs {
		if v.CIDR == vip.CIDR {
			return
		}
	}
	t.VIPs = append(t.VIPs, vip)
}

func vipValueOption(w string) bool {
	switch w {
	case "dev", "label", "brd", "broadcast", "scope", "peer", "preferred_lft", "track_group":
		return true
	}
	return false
}

func (t *translator) vipOption(n *Node, opt, value string) {
	what := strings.TrimSpace(opt + " " + value)
	switch opt {
	case "dev":
		if iface, ok := t.Setting("interface"); ok && iface != value {
			t.untranslated(n, fmt.Sprintf("%s: raftvip binds every VIP on one interface (%s)", what, iface))
		} else if !ok {
			t.set("interface", value, n, true)
		}
	case "label":
		t.note(n, what+": raftvip does not set address labels from its config")
	case "brd", "broadcast", "no_track", "-nodad", "noprefixroute", "preferred_lft":
		t.note(n, what+": raftvip sets address flags itself (harmless)")
	default:
		t.untranslated(n, what+": an address option raftvip does not set")
	}
}

// trackInterfaces turns track_interface entries into interface checks.
// keepalived reacts to link events at once; a 1s poll with rise and fall 1
// is the closest check.
func (t *translator) trackInterfaces(n *Node) {
	for _, it := range listItems(n) {
		if it.weight != "" {
			t.untranslated(it.node, fmt.Sprintf("weight %s: raftvip has no priority weights: a down interface makes the node hand the VIPs over", it.weight))
		}
		t.addCheck(it.node, health.Check{Name: "if-" + it.name, Interface: it.name, Interval: second, Timeout: second, Rise: 1, Fall: 1})
	}
}

// trackScripts turns the vrrp_scripts an instance tracks into exec checks.
func (t *translator) trackScripts(n *Node) {
	for _, it := range listItems(n) {
		s, ok := t.scripts[it.name]
		if !ok {
			t.untranslated(it.node, fmt.Sprintf("no vrrp_script %s is defined (keepalived ignores it too)", it.name))
			continue
		}
		if it.weight != "" {
			t.untranslated(it.node, fmt.Sprintf("weight %s: raftvip has no priority weights: a failing check makes the node hand the VIPs over", it.weight))
		}
		if t.tracked[it.name] {
			continue
		}
		t.tracked[it.name] = true
		if c, ok := t.script(s); ok {
			t.addCheck(s, c)
		}
	}
}

type item struct {
	name, weight string
	node         *Node
}

// listItems reads a block of names, each optionally followed by
// "weight N [reverse]"; names may share a line.
func listItems(n *Node) []item {
	var out []item
	for _, c := range n.Children {
		words := append([]string{c.Keyword}, c.Args...)
		for i := 0; i < len(words); i++ {
			switch {
			case words[i] == "weight" && i+1 < len(words) && len(out) > 0:
				i++
				out[len(out)-1].weight = words[i]
			case words[i] == "reverse" && len(out) > 0:
				out[len(out)-1].weight += " reverse"
			default:
				out = append(out, item{name: words[i], node: c})
			}
		}
	}
	return out
}

// addCheck adds c, from n, under a unique name made of the characters
// raftvip accepts, if the agent would accept c (health.Check.Validate).
func (t *translator) addCheck(n *Node, c health.Check) {
	base := checkName(c.Name)
	c.Name = base
	for i := 2; t.checkName[c.Name]; i++ {
		c.Name = base + "-" + strconv.Itoa(i)
	}
	if err := c.Validate(); err != nil {
		t.untranslated(n, fmt.Sprintf("raftvip refuses the check: %v", err))
		return
	}
	t.checkName[c.Name] = true
	t.Checks = append(t.Checks, c)
}

func checkName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "check"
	}
	return b.String()
}
