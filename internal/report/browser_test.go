package report

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/browsertest"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// quickRun is a trimmed results file of a quick run: consensus,
// inference and api families at several client counts on 1 and 3 nodes,
// the saturation scenario on both, two fault scenarios.
func quickRun(t *testing.T) *metrics.Run {
	t.Helper()
	run, err := metrics.ReadRunFile(filepath.Join("testdata", "results-quick.json"))
	if err != nil {
		t.Fatal(err)
	}
	run.Summary = metrics.SummaryOf(run)
	return run
}

// axisLabels are the axis titles the charts use.
var axisLabels = []string{"percentile", "latency (ms)", "clients", "ops/s", "nodes", "throughput (per second)", "seconds into the measurement",
	"capacity (requests/s)", "requests/s (offered; achieved for closed loops)", "TTFT (ms; e2e where no TTFT)", "requests/s",
	"output tokens/s, whole cluster", "output tokens/s, per user"}

// TestHTMLReportInABrowser renders the HTML report of a quick run in
// headless Chromium: no console error, every chart with both axis titles,
// no chart wider than the page.
func TestHTMLReportInABrowser(t *testing.T) {
	b := browsertest.New(t, 60*time.Second)
	run := quickRun(t)
	addSweeps(run)
	rep, charts := chartsOf(t, "results-quick.json", run)
	var page bytes.Buffer
	if err := rep.WriteHTML(&page, charts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page.Bytes())
	}))
	defer srv.Close()
	if err := b.Open(srv.URL, "h1"); err != nil {
		t.Fatal(err)
	}
	drawn := 0
	for _, c := range charts {
		if len(c.SVG) > 0 {
			drawn++
		}
	}
	n, err := browsertest.Eval[int](b, `document.querySelectorAll("figure svg").length`)
	if err != nil || n != drawn || n < 10 {
		t.Fatalf("the page shows %d charts (%v), want the %d drawn (at least 10)", n, err, drawn)
	}
	labels, err := browsertest.Eval[[]string](b, `[...document.querySelectorAll("figure")].filter(f => f.querySelector("svg")).map(f => {
		const texts = new Set([...f.querySelectorAll("svg text")].map(t => t.textContent.trim()));
		return f.querySelector("figcaption").textContent + "\t" + `+jsArray(axisLabels)+`.filter(l => texts.has(l)).length })`)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range labels {
		if title, k, _ := strings.Cut(l, "\t"); k != "2" {
			t.Errorf("chart %q has %s axis titles, want 2", title, k)
		}
	}
	if problems, err := browsertest.Eval[[]string](b, pageProblems); err != nil || len(problems) > 0 {
		t.Errorf("the page's charts and tables (%v):\n%s", err, strings.Join(problems, "\n"))
	}
	text, err := browsertest.Eval[string](b, `document.body.innerText.replace(/\s+/g, " ")`)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rep.Categories {
		for _, r := range row.Rows {
			if note := strings.Join(strings.Fields(r.Note), " "); note != "" && !strings.Contains(text, note) {
				t.Errorf("the page lacks the note of %s in full: %q", r.Scenario, note)
			}
		}
	}
	wide, err := browsertest.Eval[[]string](b, `[...document.querySelectorAll("figure")].filter(f => f.querySelector("svg") &&
		f.querySelector("svg").getBoundingClientRect().right > document.documentElement.clientWidth).map(f => f.querySelector("figcaption").textContent)`)
	if err != nil {
		t.Fatal(err)
	}
	if len(wide) > 0 {
		t.Errorf("charts wider than the page: %q", wide)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}
	captions, err := browsertest.Eval[string](b, `[...document.querySelectorAll("figcaption")].map(c => c.textContent).join("\n")`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"capacity under the SLO against cluster size", "latency against the rate", "goodput against the rate",
		"tokens/s per user against tokens/s of the cluster"} {
		if !strings.Contains(captions, want) {
			t.Errorf("no chart of %q among:\n%s", want, captions)
		}
	}
}

// addSweeps adds a capacity search on 1 and 3 nodes and a rate sweep on
// 3, shaped as the scenarios record them.
func addSweeps(run *metrics.Run) {
	ns := func(ms float64) *int64 { v := int64(ms * 1e6); return &v }
	f := metrics.Float
	yes, no := true, false
	point := func(label string, offered, achieved, ttft float64, passed *bool) metrics.SweepPoint {
		return metrics.SweepPoint{Label: label, OfferedRPS: offered, AchievedRPS: achieved, Completions: 100, GoodputRPS: f(achieved * 0.9),
			E2EP50Ns: *ns(ttft * 3), E2EP99Ns: *ns(ttft * 5), TTFTP50Ns: ns(ttft), TTFTP99Ns: ns(ttft * 2), TPOTP50Ns: ns(20), TPOTP99Ns: ns(30),
			OutputTokensPerS: f(achieved * 8), TokensPerSPerUser: f(50 - ttft/10), Passed: passed}
	}
	for i := range run.Clusters {
		c := &run.Clusters[i]
		k := float64(c.Size)
		c.Scenarios = append(c.Scenarios, metrics.Scenario{Name: "inference/capacity", Category: "inference", Status: metrics.StatusOK,
			Sweep: &metrics.Sweep{Kind: "capacity", Capacity: f(20 * k * 0.95), BracketLow: 20 * k * 0.95, BracketHigh: 21 * k, Binding: "keep_up",
				Points: []metrics.SweepPoint{point("synchronous", 0, 5, 40, &yes), point("throughput", 0, 21*k, 300, &yes),
					point("rate=21", 21*k, 20*k, 250, &no), point("rate=19", 20*k*0.95, 19*k, 120, &yes)}}})
		if c.Size == 3 {
			c.Scenarios = append(c.Scenarios, metrics.Scenario{Name: "inference/sweep/rate", Category: "inference", Status: metrics.StatusOK,
				Sweep: &metrics.Sweep{Kind: "rate", Knee: f(40), Points: []metrics.SweepPoint{point("synchronous", 0, 5, 40, &yes),
					point("throughput", 0, 63, 300, &yes), point("rate=24", 24, 24, 50, &yes), point("rate=44", 44, 44, 90, &yes)}}})
		}
	}
}

func jsArray(items []string) string {
	var q []string
	for _, s := range items {
		q = append(q, `"`+strings.ReplaceAll(s, `"`, `\"`)+`"`)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// TestFindingsCiteWhatToActOn: scaling efficiency where scaling is
// expected, the knee of a family, and no "highest throughput" lines.
func TestFindingsCiteWhatToActOn(t *testing.T) {
	cfg := config.Default()
	run := quickRun(t)
	// A family that stops scaling at 10 clients: throughput +4% to 50,
	// p99 x4.5.
	for _, lv := range []struct {
		clients   string
		tput, p99 float64
	}{{"1", 100, 1}, {"4", 300, 1.5}, {"10", 500, 2}, {"50", 520, 9}} {
		run.Clusters[0].Scenarios = append(run.Clusters[0].Scenarios, metrics.Scenario{
			Name: "api/cluster_status/clients=" + lv.clients, Category: "api", Status: metrics.StatusOK,
			Operations: []metrics.Operation{{Name: "cluster_status", Count: 1000, ThroughputOpsPerSec: lv.tput,
				Latency: metrics.LatencySummary{P50Ns: int64(lv.p99 * 5e5), P99Ns: int64(lv.p99 * 1e6)}}}})
	}
	rep, err := Build("results-quick.json", run, &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Findings, "\n")
	for _, want := range []string{"loadbalance/saturation scales at ", "% of linear from 1 node to 3 nodes",
		"Knees, past which more clients add latency rather than throughput: api/cluster_status/clients=N on 1 node at 10 clients (to 50: throughput +4%, p99 ×4.5)"} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
	if strings.Contains(all, "Highest") {
		t.Errorf("findings still list the highest throughput per category:\n%s", all)
	}
	t.Logf("\n%s", all)
}
