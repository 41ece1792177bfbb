// Package deploy holds what operators install beside the binary: the
// systemd unit (tested in cmd/raftvip), the Grafana dashboard and the
// Prometheus alerting rules. Its tests check that the dashboard and the
// rules ask for metrics the agent exports.
package deploy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/raftvip/raftvip/cluster"
	"github.com/raftvip/raftvip/fsm"
	"github.com/raftvip/raftvip/internal/metrics"
	"github.com/raftvip/raftvip/netops"
)

// exported scrapes the agent's /metrics handler with every source set, as
// on a follower that has had a leader (last contact) and whose cluster had
// a takeover, and returns the series names a query can use: for a summary
// or histogram its _sum, _count (and _bucket) series.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	h := metrics.Handler(metrics.Sources{
		Status: func() cluster.Status {
			return cluster.Status{State: "Follower", Term: 3, LastContact: time.Now(),
				Members: []cluster.Member{{Suffrage: "voter"}},
				VIPs:    []fsm.VIP{{Prefix: netip.MustParsePrefix("192.0.2.100/24")}},
				Owner:   fsm.Owner{Node: "n1", Term: 3, Takeover: 400}, Degraded: "x"}
		},
		Cluster:    func() cluster.Stats { return cluster.Stats{Commits: 1, CommitTime: time.Millisecond} },
		Reconciler: func() netops.Stats { return netops.Stats{} },
		Held:       func() []netip.Prefix { return nil },
		Checks:     func() []metrics.Check { return []metrics.Check{{Name: "web", Healthy: true}} },
		Healthy:    func() bool { return true },
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
			if len(f.GetMetric()) > 0 && len(f.GetMetric()[0].GetSummary().GetQuantile()) > 0 {
				names[name] = true
			}
		case dto.MetricType_HISTOGRAM:
			names[name+"_sum"], names[name+"_count"], names[name+"_bucket"] = true, true, true
		default:
			names[name] = true
		}
	}
	return names
}

// metricRef finds the metric names in a PromQL expression: the agent's and
// its collectors' (raftvip_, go_, process_) and Prometheus's own `up`.
// Label names, functions and keywords never have these forms.
var metricRef = regexp.MustCompile(`\b(raftvip_[a-zA-Z0-9_]+|go_[a-zA-Z0-9_]+|process_[a-zA-Z0-9_]+|up)\b`)

// synthetic are series Prometheus makes itself, not the agent.
var synthetic = map[string]bool{"up": true}

func checkNames(t *testing.T, where string, exprs []string, have map[string]bool) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	for _, e := range exprs {
		// Strings in the expression (label matchers' values) are not names.
		unquoted := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(e, `""`)
		refs := metricRef.FindAllString(unquoted, -1)
		if len(refs) == 0 {
			t.Errorf("%s: %q names no metric", where, e)
		}
		for _, n := range refs {
			used[n] = true
			if !have[n] && !synthetic[n] {
				t.Errorf("%s: %q uses %s, which the agent does not export", where, e, n)
			}
		}
	}
	return used
}

type dashboard struct {
	Templating struct {
		List []struct {
			Name, Type string
			Query      json.RawMessage
			Definition string
		}
	}
	Panels []panel
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	Targets    []struct{ Expr string }
	Panels     []panel
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/raftvip.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/raftvip.json: %v", err)
	}
	return d
}

func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// TestDashboardQueriesExportedMetrics: every query of the dashboard names
// metrics /metrics has, and the panels cover what an operator watches.
func TestDashboardQueriesExportedMetrics(t *testing.T) {
	d := loadDashboard(t)
	var exprs []string
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			exprs = append(exprs, v.Definition)
		}
	}
	used := checkNames(t, "grafana/raftvip.json", exprs, exported(t))
	for _, want := range []string{"raftvip_leader", "raftvip_vips_bound", "raftvip_raft_term",
		"raftvip_leader_changes_total", "raftvip_vip_moves_total", "raftvip_last_takeover_seconds",
		"raftvip_gratuitous_arp_sent_total", "raftvip_unsolicited_na_sent_total", "raftvip_health_check_healthy",
		"raftvip_degraded", "raftvip_raft_commit_seconds_sum", "raftvip_raft_last_contact_seconds"} {
		if !used[want] {
			t.Errorf("no panel of the dashboard shows %s", want)
		}
	}
}

// TestDashboardDatasourceVariable: the data source is chosen on import or
// in the dashboard, not fixed to one Grafana's data source UID.
func TestDashboardDatasourceVariable(t *testing.T) {
	d := loadDashboard(t)
	var hasVar bool
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && strings.Contains(string(v.Query), "prometheus") {
			hasVar = true
		}
	}
	if !hasVar {
		t.Fatal("no datasource template variable of type prometheus")
	}
	ids := map[int]string{}
	for _, p := range d.allPanels() {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
			t.Errorf("panel %q does not use the ${datasource} variable", p.Title)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert       string
			Record      string
			Expr        string
			For         string
			Labels      map[string]string
			Annotations map[string]string
		}
	}
}

// TestAlertRules: the rules parse, each alert has a severity and a summary,
// and every metric they use is exported. promtool, when installed, checks
// the PromQL itself.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("prometheus/alerts.yml: %v", err)
	}
	var exprs, alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without an alert name", g.Name)
				continue
			}
			if slices.Contains(alerts, r.Alert) {
				t.Errorf("alert %s defined twice", r.Alert)
			}
			alerts = append(alerts, r.Alert)
			if sev := r.Labels["severity"]; sev != "critical" && sev != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, sev)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want a summary and a description", r.Alert)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("alert %s: for: %v", r.Alert, err)
				}
			}
			exprs = append(exprs, r.Expr)
		}
	}
	checkNames(t, "prometheus/alerts.yml", exprs, exported(t))
	for _, want := range []string{"RaftvipNoHolder", "RaftvipTwoHolders", "RaftvipTwoLeaders", "RaftvipDegraded",
		"RaftvipFrequentLeaderChanges", "RaftvipMemberUnreachable"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed: the PromQL of the rules is not parsed")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, promtool, "check", "rules", "prometheus/alerts.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
