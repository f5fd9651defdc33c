package scenarios

import (
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// capacityConfig keeps searches short: a loose SLO, few completions per
// step, short steps.
func capacityConfig() *config.Config {
	cfg := shortConfig()
	cfg.Inference.NumPredict = 8
	cfg.Capacity.SLO = config.SLO{TTFTP99: 5 * time.Second, TPOTP99: time.Second, E2EP99: 10 * time.Second, ErrorRatePercent: 1}
	cfg.Capacity.MinCompletions, cfg.Capacity.MinStepDuration, cfg.Capacity.StepWarmup = 20, time.Second, 200*time.Millisecond
	cfg.Capacity.MaxClients, cfg.Capacity.MaxSteps, cfg.Capacity.SweepRates = 8, 8, 2
	cfg.Capacity.SweepClients = []int{1, 4}
	return cfg
}

func scalar(res metrics.Scenario, name string) (metrics.Scalar, bool) {
	for _, s := range res.Scalars {
		if s.Name == name {
			return s, true
		}
	}
	return metrics.Scalar{}, false
}

// The search brackets the capacity within its precision, names what
// bound it, and keeps every load it ran as a judged point. (How close it
// comes to the node's computed capacity is a benchmark's question:
// BenchmarkCapacityGroundTruth.)
func TestCapacitySearchBrackets(t *testing.T) {
	c := localtest.Start(t, 1, "--slots", "2", "--token-delay", "10ms", "--prompt-token-delay", "1ms")
	cfg := capacityConfig()
	res, _, err := run(t, cfg, specNamed(t, cfg, "inference/capacity"), c)
	if err != nil {
		t.Fatal(err)
	}
	sw := res.Sweep
	if sw == nil || sw.Kind != "capacity" || sw.Capacity == nil {
		t.Fatalf("sweep %+v: want a capacity", sw)
	}
	for _, p := range sw.Points {
		t.Logf("%-12s offered %6.2f achieved %6.2f completions %4d p99 %v: %s", p.Label, p.OfferedRPS, p.AchievedRPS, p.Completions, time.Duration(p.E2EP99Ns), p.Why)
	}
	if len(sw.Points) < 3 || sw.Points[0].Label != "synchronous" || sw.Points[1].Label != "throughput" {
		t.Fatalf("points %+v: want the synchronous and throughput probes, then steps", sw.Points)
	}
	for _, p := range sw.Points {
		if p.Passed == nil || (!*p.Passed && p.Why == "") {
			t.Errorf("point %s: passed %v, why %q: every point is judged, a failure says why", p.Label, p.Passed, p.Why)
		}
	}
	if sw.BracketHigh == 0 || sw.Binding == "" {
		t.Fatalf("bracket %v..%v bound by %q: want a rate that failed, and what failed it", sw.BracketLow, sw.BracketHigh, sw.Binding)
	}
	if width := (sw.BracketHigh - sw.BracketLow) / sw.BracketLow; width > cfg.Capacity.PrecisionPercent/100+1e-9 || *sw.Capacity != sw.BracketLow {
		t.Errorf("capacity %v, bracket %v..%v: want the bracket's low end, within %v%%", *sw.Capacity, sw.BracketLow, sw.BracketHigh, cfg.Capacity.PrecisionPercent)
	}
	if _, ok := scalar(res, "capacity_rps"); !ok {
		t.Error("no capacity_rps scalar")
	}
	if !strings.Contains(strings.Join(res.Warnings, " "), "simulated inference") {
		t.Errorf("warnings %q: the figures must say the inference is simulated", res.Warnings)
	}
}

// An SLO that even one request at a time misses leaves the capacity
// absent, saying so, and runs nothing past the synchronous probe.
func TestCapacityAbsentUnderAnSLONothingMeets(t *testing.T) {
	c := localtest.Start(t, 1, "--token-delay", "10ms", "--prompt-token-delay", "2ms")
	cfg := capacityConfig()
	cfg.Inference.Prompt = strings.Repeat("word ", 20) // 20 prompt tokens: 40 ms of prefill
	cfg.Capacity.SLO.TTFTP99 = time.Millisecond
	res, _, err := run(t, cfg, specNamed(t, cfg, "inference/capacity"), c)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := scalar(res, "capacity_rps")
	if !ok || s.Value != nil || !strings.Contains(s.Reason, "even one request at a time misses the SLO: ttft_p99") {
		t.Errorf("capacity_rps %+v: want absent, saying even one request at a time misses ttft_p99", s)
	}
	if sw := res.Sweep; sw == nil || len(sw.Points) != 1 || sw.Capacity != nil {
		t.Errorf("sweep %+v: want the synchronous probe only", sw)
	}
}

// The rate sweep runs its probes and its rates between them; the
// concurrency sweep a closed loop per client count.
func TestSweeps(t *testing.T) {
	c := localtest.Start(t, 1, "--slots", "2", "--token-delay", "10ms")
	cfg := capacityConfig()
	for _, tt := range []struct {
		name   string
		points int
	}{{"inference/sweep/rate", 2 + cfg.Capacity.SweepRates}, {"inference/sweep/clients=1,4", 2}} {
		res, _, err := run(t, cfg, specNamed(t, cfg, tt.name), c)
		if err != nil {
			t.Fatal(err)
		}
		if sw := res.Sweep; sw == nil || len(sw.Points) != tt.points || sw.Knee == nil {
			t.Errorf("%s: sweep %+v, want %d points and a knee", tt.name, sw, tt.points)
		}
	}
}

// Capacity searches and sweeps run only when named: a category or an
// empty list does not plan them.
func TestSearchesAreOptIn(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	names := func(patterns ...string) map[string]bool {
		specs, err := Filter(All(&cfg), patterns)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, s := range specs {
			out[s.Name] = true
		}
		return out
	}
	for _, got := range []map[string]bool{names(), names("inference"), names("api")} {
		if got["inference/capacity"] || got["inference/sweep/rate"] || got["api/health_check/capacity"] {
			t.Errorf("a search planned without being named: %v", got)
		}
	}
	if got := names("inference/capacity*", "api/*/capacity"); !got["inference/capacity"] || !got["api/health_check/capacity"] || len(got) != 3 {
		t.Errorf("named: %v, want inference/capacity and the two api searches", got)
	}
}
