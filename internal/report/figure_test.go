package report

import (
	"strings"
	"testing"

	"github.com/odbench/odbench/internal/metrics"
)

// Tick labels are short and never in exponent form: the axes of a report
// read "1e+03" and "2.5e+03" between 1,000 and 10,000.
func TestHumanTickLabels(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.05: "0.05", 0.00125: "0.00125", 2: "2", 750: "750", 1000: "1000", 2500: "2500",
		1234.5: "1230", 9990: "9990", 12500: "12.5k", 100000: "100k", 3e6: "3M", -2500: "-2500",
	} {
		if got := human(v); got != want {
			t.Errorf("human(%v) = %q, want %q", v, got, want)
		}
	}
}

// Series of two client counts are drawn as dots, and the title of the
// latency chart says how to tell p99 from p50 then: filled and hollow, not
// solid and dashed.
func TestLatencyChartTitleSaysHowItIsDrawn(t *testing.T) {
	title := func(run *metrics.Run) string {
		_, charts := chartsOf(t, "results-quick.json", run)
		for _, c := range charts {
			if strings.HasPrefix(c.Title, "api: latency against concurrency") {
				return c.Title
			}
		}
		t.Fatal("no latency chart for api")
		return ""
	}
	// The quick run measures 1 and 16 clients.
	if got := title(quickRun(t)); !strings.Contains(got, "p99 filled, p50 hollow") {
		t.Errorf("with two client counts: %q", got)
	}
	run := quickRun(t)
	for _, clients := range []string{"1", "4", "10", "50"} {
		run.Clusters[0].Scenarios = append(run.Clusters[0].Scenarios, metrics.Scenario{
			Name: "api/cluster_status/clients=" + clients, Category: "api", Status: metrics.StatusOK,
			Operations: []metrics.Operation{{Name: "cluster_status", Count: 1000, ThroughputOpsPerSec: 100,
				Latency: metrics.LatencySummary{P50Ns: 5e5, P99Ns: 1e6}}}})
	}
	if got := title(run); !strings.Contains(got, "p99 solid, p50 dashed") {
		t.Errorf("with a family of four client counts: %q", got)
	}
}
