package odbench_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/odbench/odbench/odbench"
)

// These tests use the public API only, as a program outside odbench would.

var (
	exampleBin string // examples/goscenario, built once: an odbench with a Go scenario
	buildErr   error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "odbench-api-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exampleBin = filepath.Join(dir, "goscenario")
	out, err := exec.Command("go", "build", "-o", exampleBin, "../examples/goscenario").CombinedOutput()
	if err != nil {
		buildErr = fmt.Errorf("building examples/goscenario: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func built(t testing.TB) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// TestProgramWithAGoScenario: `go run` of a main that registers a Go
// scenario and calls odbench.Main benchmarks the reference node with it.
func TestProgramWithAGoScenario(t *testing.T) {
	built(t)
	dir := t.TempDir()
	cmd := exec.Command(exampleBin, "run", "--categories", "custom", "--cluster-sizes", "1",
		"--duration", "1s", "--warmup", "200ms", "--results-dir", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "odbench-*.json"))
	if len(files) != 1 {
		t.Fatalf("results files %v", files)
	}
	run, err := odbench.ReadResults(files[0])
	if err != nil {
		t.Fatal(err)
	}
	s := run.Clusters[0].Scenarios[0]
	if s.Name != "custom/leader_status/clients=4" || s.Status != "ok" || s.Operations[0].ThroughputOpsPerSec <= 0 {
		t.Errorf("scenario %s %s %+v: want the Go scenario, ok, with throughput", s.Name, s.Status, s.Operations)
	}
}

// TestRunnerFromGo registers a scenario in this process and runs a plan
// with NewRunner, the nodes started from the example binary (an odbench).
func TestRunnerFromGo(t *testing.T) {
	built(t)
	odbench.Register(odbench.Scenario{Name: "health/clients=2", Run: func(ctx context.Context, env *odbench.Env, c odbench.Cluster) error {
		client := &http.Client{Timeout: 2 * time.Second}
		_, err := env.Closed(ctx, 2, odbench.Operation{Name: "health", Do: func(ctx context.Context) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.Nodes()[0].API+"/api/v1/health", nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}})
		return err
	}})
	cfg, err := odbench.LoadConfig("quick", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.OnlyCategories([]string{"custom"})
	cfg.System.ClusterSizes = []int{1}
	cfg.Cluster.Local.Binary = exampleBin
	r, err := odbench.NewRunner(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.GetResults() != run || r.ResultsPath() == "" {
		t.Errorf("GetResults and ResultsPath do not give the run")
	}
	var found bool
	for _, s := range run.Clusters[0].Scenarios {
		if s.Name == "custom/health/clients=2" && s.Status == "ok" {
			found = true
		}
	}
	if !found {
		t.Errorf("the registered scenario did not run ok: %+v", run.Clusters[0].Scenarios)
	}
	cmp, err := odbench.Compare(run, run, cfg)
	if err != nil || cmp.Failures() != 0 {
		t.Errorf("a run against itself: %v, %d failures", err, cmp.Failures())
	}
}

// TestPerformanceRegression is the older framework's CI gate: with
// ODBENCH_BASELINE naming a results file of the ci profile, it runs the ci
// profile on this build and fails on a regression, as odbench run
// --profile ci --baseline does.
//
//	ODBENCH_BASELINE=base.json go test -run=TestPerformanceRegression ./...
func TestPerformanceRegression(t *testing.T) {
	base := os.Getenv("ODBENCH_BASELINE")
	if base == "" {
		t.Skip("set ODBENCH_BASELINE to a results file of `odbench run --profile ci` to gate on it")
	}
	built(t)
	baseline, err := odbench.ReadResults(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := odbench.LoadConfig("ci", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Cluster.Local.Binary = exampleBin // an odbench, nodes included
	r, err := odbench.NewRunner(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(context.Background())
	if err != nil {
		t.Fatalf("the ci run: %v", err)
	}
	cmp, err := odbench.Compare(baseline, run, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Failures() > 0 {
		var b bytes.Buffer
		_ = odbench.WriteComparison(&b, cmp, false)
		t.Fatalf("%d regressions against %s:\n%s", cmp.Failures(), base, b.String())
	}
}

// BenchmarkComprehensivePerformance is the older framework's benchmark of
// everything: the quick profile, every category on clusters of 1 and 3
// nodes, one line per operation for benchstat:
//
//	go test -bench=BenchmarkComprehensivePerformance -run=^$ ./odbench
func BenchmarkComprehensivePerformance(b *testing.B) {
	built(b)
	cfg, err := odbench.LoadConfig("quick", "")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Cluster.Local.Binary = exampleBin
	r, err := odbench.NewRunner(cfg, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	run, err := r.Run(context.Background())
	if run == nil {
		b.Fatal(err)
	}
	if err != nil {
		b.Logf("the run: %v", err)
	}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			if s.Status != "ok" {
				continue
			}
			for _, op := range s.Operations {
				if op.PhaseOf != "" {
					continue
				}
				b.Run(fmt.Sprintf("nodes=%d/%s/op=%s", c.Size, s.Name, op.Name), func(b *testing.B) {
					for range b.N {
					}
					b.ReportMetric(0, "ns/op") // the figures are the run's, not this loop's
					b.ReportMetric(op.ThroughputOpsPerSec, "ops/s")
					b.ReportMetric(float64(op.Latency.P50Ns)/1e6, "p50-ms")
					b.ReportMetric(float64(op.Latency.P99Ns)/1e6, "p99-ms")
					b.ReportMetric(100*op.ErrorRate(), "err-%")
				})
			}
		}
	}
}
