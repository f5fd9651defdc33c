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
var axisLabels = []string{"percentile", "latency (ms)", "clients", "ops/s", "nodes", "throughput (per second)", "seconds into the measurement"}

// TestHTMLReportInABrowser renders the HTML report of a quick run in
// headless Chromium: no console error, every chart with both axis titles,
// no chart wider than the page.
func TestHTMLReportInABrowser(t *testing.T) {
	b := browsertest.New(t, 60*time.Second)
	cfg := config.Default()
	rep, err := Build("results-quick.json", quickRun(t), &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	charts, err := rep.Charts()
	if err != nil {
		t.Fatal(err)
	}
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
	n, err := browsertest.Eval[int](b, `document.querySelectorAll("figure svg").length`)
	if err != nil || n != len(charts) || n < 10 {
		t.Fatalf("the page shows %d charts (%v), want the %d drawn (at least 10)", n, err, len(charts))
	}
	labels, err := browsertest.Eval[[]int](b, `[...document.querySelectorAll("figure svg")].map(svg => {
		const texts = new Set([...svg.querySelectorAll("text")].map(t => t.textContent.trim()));
		return `+jsArray(axisLabels)+`.filter(l => texts.has(l)).length })`)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range labels {
		if k < 2 {
			t.Errorf("chart %q has %d axis titles, want 2", charts[i].Title, k)
		}
	}
	wide, err := browsertest.Eval[[]string](b, `[...document.querySelectorAll("figure")].filter(f =>
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
	}{{"1", 100, 1}, {"10", 500, 2}, {"50", 520, 9}} {
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
