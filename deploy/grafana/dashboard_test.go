// Package grafana holds a Grafana dashboard for odbench's reference nodes
// and odbench monitor, with deploy/prometheus's scrape config and alert
// rules. Its test checks every query against the metrics a running node
// and monitor really export, and the alert rules against the monitor's
// defaults.
package grafana

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/monitor"
	"github.com/odbench/odbench/internal/node"
	"sigs.k8s.io/yaml"
)

// exported scrapes /metrics of a reference node run in this process and
// of a monitor watching it, after one collection, and returns every
// series line.
func exported(t *testing.T) string {
	t.Helper()
	cfg := node.DefaultConfig()
	cfg.ID, cfg.Bootstrap, cfg.DataDir, cfg.Fsync = "g1", true, t.TempDir(), false
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- node.Run(ctx, cfg, pw, slog.New(slog.DiscardHandler)); pw.Close() }()
	t.Cleanup(func() { cancel(); <-done })
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var ready node.Ready
	if err := json.Unmarshal(line, &ready); err != nil {
		t.Fatal(err)
	}
	get := func(url string) string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	get(ready.API + "/api/v1/health") // a request, so the HTTP series exist

	mcfg := config.Default().Monitor
	mcfg.Interval = 100 * time.Millisecond
	srv := monitor.NewServer(ctx, []string{ready.API}, mcfg, io.Discard)
	mctx, stop := context.WithCancel(ctx)
	mdone := make(chan struct{})
	go func() { defer close(mdone); srv.Run(mctx) }()
	t.Cleanup(func() { stop(); <-mdone })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if s, ok := srv.Latest(); ok && s.Metrics["requests_per_s"] >= 0 && len(s.Metrics) > 8 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return get(ready.API+"/metrics") + get(hs.URL+"/metrics")
}

// selectors finds the metric selectors of a PromQL expression: a metric
// name and, if any, its name="..." label.
var selectorRE = regexp.MustCompile(`\b((?:odbench|go|process)_[a-z0-9_]+)(\{[^}]*\})?`)
var nameLabelRE = regexp.MustCompile(`name="([a-z0-9_]+)"`)

func checkExpr(t *testing.T, where, expr, series string) {
	t.Helper()
	sels := selectorRE.FindAllStringSubmatch(expr, -1)
	if len(sels) == 0 {
		t.Errorf("%s: %q names no odbench, go or process metric", where, expr)
	}
	for _, m := range sels {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(m[1]) + `[{ ]`).MatchString(series) {
			t.Errorf("%s: %q uses %s, which no node or monitor exports", where, expr, m[1])
		}
		if l := nameLabelRE.FindStringSubmatch(m[2]); l != nil && !strings.Contains(series, m[1]+`{name="`+l[1]+`"}`) {
			t.Errorf("%s: %q asks for %s{name=%q}, which the monitor does not export", where, expr, m[1], l[1])
		}
	}
}

func TestDashboardQueriesExportedMetrics(t *testing.T) {
	series := exported(t)
	b, err := os.ReadFile("odbench-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title      string `json:"title"`
			Datasource struct {
				Type string `json:"type"`
			} `json:"datasource"`
			FieldConfig struct {
				Defaults struct {
					Unit string `json:"unit"`
				} `json:"defaults"`
			} `json:"fieldConfig"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("the dashboard: %v (uid %q, %d panels)", err, d.UID, len(d.Panels))
	}
	for _, p := range d.Panels {
		if p.Datasource.Type != "prometheus" || p.FieldConfig.Defaults.Unit == "" || len(p.Targets) == 0 {
			t.Errorf("panel %q: data source %q, unit %q, %d queries", p.Title, p.Datasource.Type, p.FieldConfig.Defaults.Unit, len(p.Targets))
		}
		for _, q := range p.Targets {
			checkExpr(t, "panel "+p.Title, q.Expr, series)
		}
	}
}

func TestPrometheusRulesMatchTheMonitorDefaults(t *testing.T) {
	series := exported(t)
	b, err := os.ReadFile("../prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &rules); err != nil || len(rules.Groups) != 1 {
		t.Fatalf("alerts.yml: %v", err)
	}
	byName := map[string]string{}
	for _, r := range rules.Groups[0].Rules {
		checkExpr(t, "rule "+r.Alert, r.Expr, series)
		byName[r.Alert] = fmt.Sprintf("%s for %s severity %s", r.Expr, r.For, r.Labels["severity"])
	}
	for _, a := range config.Default().Monitor.Alerts {
		want := fmt.Sprintf(`odbench_monitor_metric{name="%s"} %s %g for %s severity %s`, a.Metric, a.Condition, a.Threshold, promDuration(a.For), a.Severity)
		if byName[a.Name] != want {
			t.Errorf("rule %s: %q, want the monitor's default %q", a.Name, byName[a.Name], want)
		}
	}
	if len(byName) != len(config.Default().Monitor.Alerts) {
		t.Errorf("%d rules, the monitor has %d defaults", len(byName), len(config.Default().Monitor.Alerts))
	}
	sc, err := os.ReadFile("../prometheus/prometheus.yml")
	if err != nil || !strings.Contains(string(sc), "alerts.yml") {
		t.Errorf("prometheus.yml does not load alerts.yml (%v)", err)
	}
}

// promDuration writes d as Prometheus does in rule files: 30s, 1m.
func promDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
