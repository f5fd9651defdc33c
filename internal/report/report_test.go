package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fixture is the v1 results fixture every schema version keeps.
func fixture(t *testing.T) *metrics.Run {
	t.Helper()
	run, err := metrics.ReadRunFile(filepath.Join("..", "..", "testdata", "results-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update regenerates it):\n--- got\n%s", name, got)
	}
}

func build(t *testing.T) *Report {
	t.Helper()
	cfg := config.Default()
	rep, err := Build("results-v1.json", fixture(t), &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// chartsOf builds the report of run (saved as file) with the default
// config and draws its charts.
func chartsOf(t *testing.T, file string, run *metrics.Run) (*Report, []Chart) {
	t.Helper()
	cfg := config.Default()
	rep, err := Build(file, run, &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	charts, err := rep.Charts()
	if err != nil {
		t.Fatal(err)
	}
	return rep, charts
}

func TestReportGolden(t *testing.T) {
	rep := build(t)
	var text, md, bench bytes.Buffer
	if err := rep.WriteText(&text, 0); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.txt", text.Bytes())
	if err := rep.WriteMarkdown(&md, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", md.Bytes())
	if err := rep.WriteBenchfmt(&bench); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.bench", bench.Bytes())
}

func TestReportSections(t *testing.T) {
	rep := build(t)
	var md bytes.Buffer
	if err := rep.WriteMarkdown(&md, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## System Information", "## Key Findings", "## Category: api", "## Scalability Analysis",
		"## Resource Utilization", "## Targets", "## Recommendations"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// A target that had no data says so instead of passing or failing.
	found := false
	for _, tg := range rep.Targets {
		if tg.Status == TargetNotMeasured && tg.Measured != "" {
			found = true
		}
	}
	if !found {
		t.Error("no target reported as not measured with a reason, though the fixture has no node resources")
	}
}

func TestHTMLIsSelfContained(t *testing.T) {
	rep := build(t)
	charts, err := rep.Charts()
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) == 0 {
		t.Fatal("no chart drawn from the fixture's histogram")
	}
	var html bytes.Buffer
	if err := rep.WriteHTML(&html, charts); err != nil {
		t.Fatal(err)
	}
	page := html.String()
	if strings.Count(page, "<svg") != len(charts) {
		t.Errorf("%d inline SVGs for %d charts", strings.Count(page, "<svg"), len(charts))
	}
	for _, bad := range []string{"<script", "src=\"http", "href=\"http", "@import", "<?xml"} {
		if strings.Contains(page, bad) {
			t.Errorf("the HTML contains %q: it must open offline as one file", bad)
		}
	}
}

// TestChecksSection: every check of every scenario, passed or failed, is
// in each format, its severity and detail with it.
func TestChecksSection(t *testing.T) {
	run := fixture(t)
	sc := &run.Clusters[0].Scenarios[0]
	sc.Checks = []metrics.Check{
		{Name: "minority_cannot_commit", Severity: metrics.SeverityFail, Passed: false, Detail: "a write through n2 succeeded"},
		{Name: "no_leader_election", Severity: metrics.SeverityWarn, Passed: false, Detail: "Raft term went from 2 to 3"},
		{Name: "majority_commits", Severity: metrics.SeverityFail, Passed: true, Detail: "a write through the majority succeeded"},
	}
	cfg := config.Default()
	rep, err := Build("x.json", run, &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fail, warn := rep.ChecksFailed(); fail != 1 || warn != 1 {
		t.Errorf("ChecksFailed = %d, %d; want 1, 1", fail, warn)
	}
	var text, md, html, js bytes.Buffer
	for _, w := range []func() error{
		func() error { return rep.WriteText(&text, 0) },
		func() error { return rep.WriteMarkdown(&md, nil) },
		func() error { return rep.WriteHTML(&html, nil) },
		func() error { return rep.WriteJSON(&js) },
	} {
		if err := w(); err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"text": text.String(), "md": md.String(), "html": html.String(), "json": js.String()} {
		for _, want := range []string{"minority_cannot_commit", "a write through n2 succeeded", "no_leader_election", "majority_commits"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s report lacks %q", name, want)
			}
		}
	}
	for _, want := range []string{"| minority_cannot_commit | fail | FAIL |", "| no_leader_election | warn | WARN |", "| majority_commits | fail | PASS |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks the row %q", want)
		}
	}
	if !strings.Contains(md.String(), "2 of 3 checks failed: 1 of severity fail, failing their scenarios (minority_cannot_commit in api/health_check/rate=1000 on 1 node), 1 warnings (no_leader_election") {
		t.Errorf("key findings do not count the failed checks:\n%s", md.String())
	}
}
