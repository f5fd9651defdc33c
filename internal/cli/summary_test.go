package cli

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// longRun is a run with what makes summaries wide: long scenario names,
// long errors and warnings, several operations, phases, fault windows.
func longRun() *metrics.Run {
	op := func(name, phaseOf string, rps float64, errs int64) metrics.Operation {
		return metrics.Operation{Name: name, PhaseOf: phaseOf, Count: 1000, Errors: errs, ThroughputOpsPerSec: rps,
			ErrorsByKind: map[string]int64{"http_503": errs},
			Latency:      metrics.LatencySummary{P50Ns: 1_234_567, P99Ns: 345_678_901}}
	}
	long := strings.Repeat("a very long explanation of what went wrong, ", 8)
	run := &metrics.Run{Status: metrics.RunComplete, Warnings: []string{"host-bound: " + long}}
	c := metrics.Cluster{Size: 3, Side: "baseline", Error: "the first start failed: " + long}
	c.Scenarios = []metrics.Scenario{
		{Name: "consensus/apply/clients=256/value=256KiB/with/an/even/longer/name/than/any/today", Category: "consensus", Status: metrics.StatusOK,
			Operations: []metrics.Operation{op("put", "", 123456, 0)}},
		{Name: "concurrency/mixed/clients=8", Category: "concurrency", Status: metrics.StatusFailed, Error: long,
			Operations: []metrics.Operation{op("kv_read", "", 10, 1), op("kv_write", "", 20, 2), op("generate", "", 3, 0)}},
		{Name: "inference/generate/clients=16", Category: "inference", Status: metrics.StatusOK, Warnings: []string{long},
			Operations: []metrics.Operation{op("e2e", "", 15, 0), op("ttft", "e2e", 15, 0), op("tpot", "e2e", 15, 0)}},
		{Name: "faults/leader_failure", Category: "faults", Status: metrics.StatusOK, Repetition: 12,
			Operations: []metrics.Operation{op("put", "", 100, 50), op("put@before", "put", 100, 0),
				op("put@during", "put", 10, 90), op("put@after", "put", 100, 0)},
			Checks: []metrics.Check{{Name: "linearizable", Severity: metrics.SeverityFail, Detail: long}}},
		{Name: "faults/partition_minority", Category: "faults", Status: metrics.StatusSkipped, Reason: long},
	}
	run.Clusters = []metrics.Cluster{c}
	run.Summary = metrics.SummaryOf(run)
	return run
}

func TestSummaryFitsTheTerminal(t *testing.T) {
	cfg := config.Default()
	for _, width := range []int{80, 120} {
		var out bytes.Buffer
		printSummary(&out, summaryInput{run: longRun(), cfg: &cfg, width: width,
			path: "results/odbench-20261130T000000Z.json"})
		text := out.String()
		for i, line := range strings.Split(text, "\n") {
			if n := utf8.RuneCountInString(line); n > width {
				t.Errorf("width %d, line %d has %d characters: %q", width, i+1, n, line)
			}
		}
		for _, want := range []string{"consensus · 3 nodes, baseline side", "mixed/clients=8", "FAIL", "[1]",
			"ttft p50 1.23ms", "during 10/s p99 345.7ms 8.3% err", "✗ scenarios", "FAILED check linearizable",
			"! warnings", "next       odbench report --format html"} {
			if !strings.Contains(text, want) {
				t.Errorf("width %d: the summary lacks %q:\n%s", width, want, text)
			}
		}
		if width == 80 {
			t.Logf("\n%s", text)
		}
	}
}

func TestWrapHanging(t *testing.T) {
	got := wrapHanging("one two three four five six seven eight nine ten", 16, 4)
	want := []string{"one two three", "    four five", "    six seven", "    eight nine", "    ten"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, l := range wrapHanging(strings.Repeat("x", 50), 20, 2) {
		if len(l) > 20 {
			t.Errorf("a word longer than the line was not cut: %q", l)
		}
	}
}

func TestTermWidth(t *testing.T) {
	t.Setenv("COLUMNS", "93")
	if w := termWidth(&bytes.Buffer{}); w != 93 {
		t.Errorf("COLUMNS=93: width %d", w)
	}
	t.Setenv("COLUMNS", "")
	if w := termWidth(&bytes.Buffer{}); w != defaultWidth {
		t.Errorf("no COLUMNS, not a terminal: width %d, want %d", w, defaultWidth)
	}
}

func TestFmtPercentHasNoExponent(t *testing.T) {
	for _, tt := range []struct {
		p    float64
		want string
	}{
		{0.001, "<0.01%"}, {0.123, "0.12%"}, {5.26, "5.3%"}, {57.8, "57%"},
		{99.5, "99.5%"}, {99.96, "99.9%"}, {100, "100%"},
	} {
		if got := fmtPercent(tt.p); got != tt.want {
			t.Errorf("fmtPercent(%v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// A busy host touches many scenarios of a run: one note says so, and
// every row it touched points at it.
func TestHostNotePrintedOnce(t *testing.T) {
	cfg := config.Default()
	run := &metrics.Run{Status: metrics.RunComplete}
	c := metrics.Cluster{Size: 3}
	for i, mean := range []float64{95, 97, 99} {
		res := &metrics.Resources{Host: &metrics.HostResources{Samples: 4, CPUPercentMean: mean, CPUPercentMax: mean + 1}}
		s := metrics.Scenario{Name: fmt.Sprintf("api/health_check/clients=%d", i+1), Category: "api", Status: metrics.StatusOK, Resources: res,
			Warnings: append(metrics.HostWarnings(res, 90, 10), "something else")}
		if i == 2 {
			s.Warnings = metrics.HostWarnings(res, 90, 10)
		}
		c.Scenarios = append(c.Scenarios, s)
	}
	run.Clusters = []metrics.Cluster{c}
	run.Summary = metrics.SummaryOf(run)
	var out bytes.Buffer
	printSummary(&out, summaryInput{run: run, cfg: &cfg, width: 100})
	text := out.String()
	if n := strings.Count(text, "host CPU averaged"); n != 1 {
		t.Errorf("the host note appears %d times, want once:\n%s", n, text)
	}
	for _, want := range []string{"[1,2]", "[2]", "up to 99%", "3 measurements"} {
		if !strings.Contains(text, want) {
			t.Errorf("the summary lacks %q:\n%s", want, text)
		}
	}
}
