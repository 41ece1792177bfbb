package keepalived

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/raftvip/raftvip/internal/health"
)

// Severity says whether a finding needs the user's attention.
type Severity int

const (
	// Note: nothing of the keepalived behaviour is lost (raftvip does it
	// another way, or a default was written out); listed for the record.
	Note Severity = iota
	// Untranslated: keepalived did something the printed config does not.
	Untranslated
)

// Finding names one statement of the keepalived config and what became of it.
type Finding struct {
	Pos      Pos
	Severity Severity
	What     string // the statement, e.g. "virtual_router_id 51"
	Reason   string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s", f.Pos, f.What, f.Reason)
}

// Setting is one scalar key of the raftvip config, its value already in YAML
// form.
type Setting struct {
	Key, Value string
	Pos        Pos
	weak       bool // a global default an instance may override silently
}

// VIP is one entry of the vip list, with a remark for the reader.
type VIP struct {
	CIDR    string
	Comment string
}

// Result is the translated config and everything that did not carry over.
type Result struct {
	VIPs     []VIP
	Settings []Setting // in output order
	Checks   []health.Check
	Findings []Finding
	// Pair is set when the keepalived config is one of a MASTER/BACKUP
	// pair: raftvip needs a third voter, a witness (witness.go).
	Pair *Pair
}

// Complete reports whether everything keepalived did carries over.
func (r Result) Complete() bool {
	for _, f := range r.Findings {
		if f.Severity == Untranslated {
			return false
		}
	}
	return true
}

// Setting returns the value of key, if set.
func (r Result) Setting(key string) (string, bool) {
	for _, s := range r.Settings {
		if s.Key == key {
			return s.Value, true
		}
	}
	return "", false
}

// translator accumulates a Result while walking the tree.
type translator struct {
	Result
	scripts   map[string]*Node // vrrp_script blocks by name
	tracked   map[string]bool  // scripts some instance tracks
	checkName map[string]bool
}

// Translate walks the statements Parse returned.
func Translate(nodes []*Node) Result {
	t := &translator{scripts: map[string]*Node{}, tracked: map[string]bool{}, checkName: map[string]bool{}}
	var instances, groups []*Node
	for _, n := range nodes {
		switch n.Keyword {
		case "vrrp_script":
			if len(n.Args) == 1 {
				t.scripts[n.Args[0]] = n
			} else {
				t.untranslated(n, "vrrp_script needs exactly one name")
			}
		case "vrrp_instance":
			instances = append(instances, n)
		case "vrrp_sync_group":
			groups = append(groups, n)
		}
	}
	for _, n := range nodes {
		t.top(n)
	}
	t.instances(instances, groups)
	for _, g := range groups {
		t.syncGroup(g, len(instances))
	}
	t.untrackedScripts(nodes)
	t.finish()
	// In file order, which is how the user will go through them.
	slices.SortStableFunc(t.Findings, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line))
	})
	return t.Result
}

func (t *translator) top(n *Node) {
	switch n.Keyword {
	case "vrrp_script", "vrrp_instance", "vrrp_sync_group":
		// handled with the instances
	case "global_defs":
		for _, c := range n.Children {
			t.global(c)
		}
	case "virtual_server", "virtual_server_group":
		t.untranslated(n, "LVS load balancing: raftvip moves addresses only; keep the load balancer (e.g. haproxy, or ipvsadm rules) on the nodes and let raftvip move the VIP in front of it")
	case "static_ipaddress", "static_routes", "static_rules":
		t.untranslated(n, "static addresses and routes stay on the host whatever its role: configure them in the host's network config")
	case "garp_group":
		t.untranslated(n, "per-interface GARP groups: raftvip has garp-count, garp-interval, garp-repeat and garp-refresh for the VIP interface")
	default:
		t.untranslated(n, "not known to the importer")
	}
}

func (t *translator) instances(instances, groups []*Node) {
	if len(instances) == 0 {
		t.Findings = append(t.Findings, Finding{Severity: Untranslated, What: "vrrp_instance", Reason: "the config has no vrrp_instance: there are no VIPs to translate"})
		return
	}
	if units := independent(instances, groups); len(units) > 1 {
		t.Findings = append(t.Findings, Finding{Pos: instances[0].Pos, Severity: Untranslated, What: "vrrp_instance",
			Reason: fmt.Sprintf("%s could be master on different nodes; raftvip has one VIP set per cluster, so their VIPs were merged and move together", strings.Join(units, ", "))})
	}
	for _, n := range instances {
		for _, c := range n.Children {
			t.instance(c)
		}
	}
}

// independent names the sync groups and the instances in none: the units
// keepalived may place on different nodes.
func independent(instances, groups []*Node) []string {
	grouped := map[string]bool{}
	var units []string
	for _, g := range groups {
		units = append(units, "sync group "+strings.Join(g.Args, " "))
		for _, c := range g.Children {
			if c.Keyword == "group" {
				for _, it := range listItems(c) {
					grouped[it.name] = true
				}
			}
		}
	}
	for _, n := range instances {
		if name := strings.Join(n.Args, " "); !grouped[name] {
			units = append(units, "instance "+name)
		}
	}
	return units
}

// set records key = value. A second, different value is a conflict (several
// instances disagree): the first one is kept. A weak (global) value yields
// to any other.
func (t *translator) set(key, value string, n *Node, weak bool) {
	for i, s := range t.Settings {
		if s.Key != key {
			continue
		}
		switch {
		case s.weak && !weak:
			t.Settings[i] = Setting{Key: key, Value: value, Pos: n.Pos}
		case s.Value != value && !weak:
			t.untranslated(n, fmt.Sprintf("conflicts with %s: %s from %s, which was kept (raftvip has one value per node)", key, s.Value, s.Pos))
		}
		return
	}
	t.Settings = append(t.Settings, Setting{Key: key, Value: value, Pos: n.Pos, weak: weak})
}

func (t *translator) add(n *Node, sev Severity, reason string) {
	t.Findings = append(t.Findings, Finding{Pos: n.Pos, Severity: sev, What: statement(n), Reason: reason})
}

func (t *translator) untranslated(n *Node, reason string) { t.add(n, Untranslated, reason) }
func (t *translator) note(n *Node, reason string)         { t.add(n, Note, reason) }

// statement is n as the user wrote it, shortened for a one-line message.
func statement(n *Node) string {
	s := strings.Join(append([]string{n.Keyword}, n.Args...), " ")
	if n.HasBlock {
		s += " { ... }"
	}
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// oneArg returns n's single argument, or records why it has none.
func (t *translator) oneArg(n *Node) (string, bool) {
	if len(n.Args) != 1 {
		t.untranslated(n, fmt.Sprintf("%s takes one value", n.Keyword))
		return "", false
	}
	return n.Args[0], true
}

// seconds reads a keepalived TIMER: seconds, fractions allowed.
func seconds(s string) (time.Duration, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a number of seconds", s)
	}
	return time.Duration(f * float64(time.Second)).Round(time.Microsecond), nil
}

// timer reads n's one TIMER argument, or records why it cannot.
func (t *translator) timer(n *Node) (time.Duration, bool) {
	v, ok := t.oneArg(n)
	if !ok {
		return 0, false
	}
	d, err := seconds(v)
	if err != nil {
		t.untranslated(n, err.Error())
		return 0, false
	}
	return d, true
}

// setSeconds translates a TIMER statement to a duration key.
func (t *translator) setSeconds(key string, n *Node, weak bool) {
	if d, ok := t.timer(n); ok {
		t.set(key, d.String(), n, weak)
	}
}

// setInt translates an integer statement within [lo, hi] to key.
func (t *translator) setInt(key string, n *Node, lo, hi int, weak bool) {
	v, ok := t.oneArg(n)
	if !ok {
		return
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < lo || i > hi {
		t.untranslated(n, fmt.Sprintf("%q: raftvip's %s takes %d to %d", v, key, lo, hi))
		return
	}
	t.set(key, strconv.Itoa(i), n, weak)
}

// finish writes out keepalived's defaults where the config relied on them,
// so that the raftvip config means the same whatever raftvip's defaults are.
func (t *translator) finish() {
	if len(t.VIPs) == 0 {
		return
	}
	if _, ok := t.Setting("priority"); !ok {
		t.Settings = append(t.Settings, Setting{Key: "priority", Value: "100"})
	}
	if _, ok := t.Setting("preempt"); !ok {
		t.Settings = append(t.Settings, Setting{Key: "preempt", Value: "true"})
	}
	order := []string{"interface", "priority", "preempt", "preempt-delay",
		"notify-master", "notify-backup", "notify-fault", "notify-stop",
		"garp-count", "garp-interval", "garp-repeat", "garp-refresh"}
	slices.SortStableFunc(t.Settings, func(a, b Setting) int {
		return slices.Index(order, a.Key) - slices.Index(order, b.Key)
	})
}
