package runner

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := clustertest.FindLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// target serves ollama-distributed's health and status; status answers
// with statusCode.
func target(t *testing.T, statusCode int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/health":
			w.Write([]byte(`{"status":"ok"}`))
		case "/api/v1/cluster/status":
			w.WriteHeader(statusCode)
			w.Write([]byte(`{}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func options(t *testing.T, urls []string, scenarios ...string) Options {
	t.Helper()
	cfg := config.Default()
	cfg.OnlyCategories([]string{"api"})
	cfg.Execution.Duration = time.Second
	cfg.Execution.WarmupDuration = 0
	cfg.Execution.Scenarios = scenarios
	cfg.System.ConcurrencyLevels = []int{2}
	cfg.Cluster.Driver, cfg.Cluster.Targets = "external", urls
	cfg.Cluster.StartTimeout = 2 * time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return Options{Config: &cfg, Driver: cluster.NewExternal(urls, cfg.Cluster.StartTimeout), ResultsDir: t.TempDir(),
		Tool: metrics.Tool{Name: "odbench", Version: "test"}}
}

func runIt(t *testing.T, ctx context.Context, opt Options) (*metrics.Run, error) {
	t.Helper()
	r, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	run, path, err := r.Run(ctx)
	if path == "" {
		t.Fatalf("no results file written (err %v)", err)
	}
	back, rerr := metrics.ReadRunFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if back.Status != run.Status || back.Summary != run.Summary {
		t.Errorf("file says %s %+v, run says %s %+v", back.Status, back.Summary, run.Status, run.Summary)
	}
	if filepath.Dir(path) != opt.ResultsDir {
		t.Errorf("results at %s, want in %s", path, opt.ResultsDir)
	}
	return run, err
}

func TestRunOK(t *testing.T) {
	srv := target(t, 200)
	run, err := runIt(t, context.Background(), options(t, []string{srv.URL}, "api/health_check/clients=2"))
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != metrics.RunComplete || run.Summary.OK != 1 || run.Summary.Scenarios != 1 {
		t.Fatalf("status %s, summary %+v", run.Status, run.Summary)
	}
	sc := run.Clusters[0].Scenarios[0]
	if sc.Operations[0].Count == 0 || sc.Operations[0].Histogram == "" || sc.Resources == nil || sc.Resources.Host == nil {
		t.Errorf("scenario lacks counts, histogram or resources: %+v", sc)
	}
	if run.Host.Cores == 0 || run.Host.GoVersion == "" {
		t.Errorf("host not described: %+v", run.Host)
	}
}

func TestFailedScenarioDoesNotStopTheRun(t *testing.T) {
	srv := target(t, 500)
	run, err := runIt(t, context.Background(), options(t, []string{srv.URL}, "api/cluster_status/clients=2", "api/health_check/clients=2"))
	if !errors.Is(err, ErrScenariosFailed) {
		t.Fatalf("err = %v, want ErrScenariosFailed", err)
	}
	if run.Summary.Failed != 1 || run.Summary.OK != 1 {
		t.Fatalf("summary %+v, want one failed and one ok", run.Summary)
	}
	for _, sc := range run.Clusters[0].Scenarios {
		if sc.Status == metrics.StatusFailed && !strings.Contains(sc.Error, "every request failed") {
			t.Errorf("failed scenario says %q", sc.Error)
		}
	}
}

// TestErrorRateDecides: a target that dies a fifth into the measurement
// leaves most requests refused. That scenario fails, naming the rate and
// the dominant kind (it once passed as ok because some requests worked);
// one that fails a request in 500 stays ok, under the 1% target.
func TestErrorRateDecides(t *testing.T) {
	t.Run("target dies mid-run", func(t *testing.T) {
		srv := target(t, 200)
		time.AfterFunc(200*time.Millisecond, srv.Close)
		run, err := runIt(t, context.Background(), options(t, []string{srv.URL}, "api/cluster_status/clients=2"))
		if !errors.Is(err, ErrScenariosFailed) {
			t.Fatalf("err = %v, want ErrScenariosFailed", err)
		}
		sc := run.Clusters[0].Scenarios[0]
		if sc.Status != metrics.StatusFailed || !strings.Contains(sc.Error, "requests failed, most as refused") ||
			!strings.Contains(sc.Error, "targets.error_rate_percent") {
			t.Errorf("status %s, error %q: want failed with the error rate and refused named", sc.Status, sc.Error)
		}
	})
	t.Run("one request in 500 fails", func(t *testing.T) {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/cluster/status" && n.Add(1)%500 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}))
		defer srv.Close()
		run, err := runIt(t, context.Background(), options(t, []string{srv.URL}, "api/cluster_status/clients=2"))
		if err != nil {
			t.Fatal(err)
		}
		if sc := run.Clusters[0].Scenarios[0]; sc.Status != metrics.StatusOK || sc.Operations[0].Errors == 0 {
			t.Errorf("status %s (%s) with %d errors: want ok with a few errors", sc.Status, sc.Error, sc.Operations[0].Errors)
		}
	})
}

func TestFailFast(t *testing.T) {
	srv := target(t, 500)
	opt := options(t, []string{srv.URL}, "api/cluster_status")
	opt.Config.Execution.FailFast = true
	run, err := runIt(t, context.Background(), opt)
	if !errors.Is(err, ErrScenariosFailed) || run.Summary.Scenarios != 1 {
		t.Fatalf("err %v, summary %+v: want one failed scenario and a stop", err, run.Summary)
	}
}

func TestRateLimitedIsNotThroughput(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/health" && n.Add(1) > 5 {
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	run, _ := runIt(t, context.Background(), options(t, []string{srv.URL}, "api/health_check/clients=2"))
	sc := run.Clusters[0].Scenarios[0]
	op := sc.Operations[0]
	if op.RateLimited == 0 || op.Count > 5 {
		t.Fatalf("rate-limited %d, count %d", op.RateLimited, op.Count)
	}
	found := false
	for _, w := range sc.Warnings {
		found = found || strings.Contains(w, "rate-limited (HTTP 429)")
	}
	if !found {
		t.Errorf("warnings %q lack the rate-limit explanation", sc.Warnings)
	}
}

func TestInterruptedWritesPartialResults(t *testing.T) {
	srv := target(t, 200)
	opt := options(t, []string{srv.URL}, "api/health_check", "api/cluster_status")
	opt.Config.Execution.Duration = 5 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(1500*time.Millisecond, cancel)
	run, err := runIt(t, ctx, opt)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	if run.Status != metrics.RunInterrupted {
		t.Errorf("status %q", run.Status)
	}
	skipped := 0
	for _, sc := range run.Clusters[0].Scenarios {
		if sc.Status == metrics.StatusSkipped && strings.Contains(sc.Reason, "interrupted") {
			skipped++
		}
	}
	if skipped == 0 {
		t.Error("no scenario marked as not run because of the interruption")
	}
}

func TestUnreachableTarget(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	run, err := runIt(t, context.Background(), options(t, []string{url}, "api/health_check"))
	if !errors.Is(err, cluster.ErrStart) {
		t.Fatalf("err = %v, want cluster.ErrStart", err)
	}
	if run.Clusters[0].Error == "" {
		t.Error("the cluster's start error is not in the results")
	}
}

func TestResultsDirNotWritable(t *testing.T) {
	opt := options(t, []string{"http://127.0.0.1:1"})
	opt.ResultsDir = "/proc/odbench-cannot-exist"
	if _, err := New(opt); !errors.Is(err, ErrResultsDir) {
		t.Fatalf("err = %v, want ErrResultsDir", err)
	}
}

// TestJudgeSteal: a measurement during which the hypervisor took more
// than the threshold of the CPU is host-bound, with a warning that says so.
func TestJudgeSteal(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	for _, tc := range []struct {
		steal     float64
		wantBound bool
	}{{30, true}, {2, false}} {
		steal := tc.steal
		res := &metrics.Scenario{Status: metrics.StatusOK, Resources: &metrics.Resources{
			Host: &metrics.HostResources{Samples: 4, CPUPercentMean: 40, StealPercentMean: &steal, StealPercentMax: &steal}}}
		judge(res, &cfg)
		if res.HostBound != tc.wantBound {
			t.Errorf("steal %v%%: host-bound = %v, want %v", steal, res.HostBound, tc.wantBound)
		}
		warned := false
		for _, w := range res.Warnings {
			warned = warned || strings.Contains(w, "steal")
		}
		if warned != tc.wantBound {
			t.Errorf("steal %v%%: warnings %q", steal, res.Warnings)
		}
	}
}

// TestSeedRecorded: the run's seed and every repetition's (derived from
// it) are in the results; the same execution.seed gives the same ones.
func TestSeedRecorded(t *testing.T) {
	srv := target(t, 200)
	seeds := func(seed uint64) (uint64, []uint64) {
		opt := options(t, []string{srv.URL}, "api/health_check/clients=2")
		opt.Config.Execution.Seed = seed
		opt.Config.Execution.Count = 2
		run, err := runIt(t, context.Background(), opt)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, sc := range run.Clusters[0].Scenarios {
			out = append(out, sc.Seed)
		}
		return run.Seed, out
	}
	r1, s1 := seeds(7)
	r2, s2 := seeds(7)
	if r1 != 7 || r2 != 7 || len(s1) != 2 || s1[0] != s2[0] || s1[1] != s2[1] || s1[0] == s1[1] || s1[0] == 0 {
		t.Errorf("run seeds %d, %d; repetition seeds %v, %v: want 7, and two distinct seeds the same both times", r1, r2, s1, s2)
	}
	if r, _ := seeds(0); r == 0 {
		t.Error("seed 0 must pick a random seed and record it")
	}
}

// TestABPlanAlternates: an A/B run starts a cluster per side and
// repetition, A B B A A B B A, so drift hits both sides alike.
func TestABPlanAlternates(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Execution.Count = 4
	cur, base := cluster.NewExternal([]string{"http://127.0.0.1:1"}, time.Second), cluster.NewExternal([]string{"http://127.0.0.1:2"}, time.Second)
	r := &Runner{opt: Options{Config: &cfg, Driver: cur, Baseline: &Side{Driver: base}}}
	var got []string
	for _, p := range r.plans(3) {
		if len(p.reps) != 1 || p.where.Size != 3 {
			t.Fatalf("plan %+v: want one repetition on a cluster of 3", p)
		}
		want := map[string]cluster.Driver{SideBaseline: base, SideCurrent: cur}[p.where.Side]
		if p.driver != want {
			t.Errorf("repetition %d %s runs on the other side's driver", p.reps[0], p.where.Side)
		}
		got = append(got, fmt.Sprintf("%s%d", p.where.Side[:1], p.reps[0]))
	}
	if s := strings.Join(got, " "); s != "b1 c1 c2 b2 b3 c3 c4 b4" {
		t.Errorf("plan %s, want b1 c1 c2 b2 b3 c3 c4 b4 (baseline, current alternating)", s)
	}
	if r.Total() != 0 { // no specs here; Total counts both sides
		t.Errorf("Total = %d", r.Total())
	}
}
