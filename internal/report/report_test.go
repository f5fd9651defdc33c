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

func TestReportGolden(t *testing.T) {
	rep := build(t)
	var text, md, bench bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
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
