package report

import (
	"strings"
	"testing"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

func runOf(s metrics.Scenario) *metrics.Run {
	s.Status = metrics.StatusOK
	if s.Name == "" {
		s.Name = "api/x"
	}
	return &metrics.Run{SchemaVersion: 1, Clusters: []metrics.Cluster{{Size: 3, Scenarios: []metrics.Scenario{s}}}}
}

func op(count, errs int64, p50, p99 int64) metrics.Operation {
	return metrics.Operation{Name: "get", Count: count, Errors: errs, Latency: metrics.LatencySummary{P50Ns: p50, P99Ns: p99},
		ErrorsByKind: map[string]int64{"timeout": errs}}
}

func withScalar(name string, v float64) metrics.Scenario {
	return metrics.Scenario{Scalars: []metrics.Scalar{{Name: name, Value: metrics.Float(v)}}}
}

func TestRecommendationRules(t *testing.T) {
	t.Parallel()
	host := func(cpu float64) metrics.Scenario {
		return metrics.Scenario{Resources: &metrics.Resources{Host: &metrics.HostResources{Samples: 4, CPUPercentMean: cpu}}}
	}
	steal := func(pct float64) metrics.Scenario {
		return metrics.Scenario{Resources: &metrics.Resources{Host: &metrics.HostResources{Samples: 4, StealPercentMean: &pct, StealPercentMax: &pct}}}
	}
	steps := func(lastHeld bool) metrics.Scenario {
		return metrics.Scenario{Name: "concurrency/stress/op=kv_write", Load: &metrics.Load{Mode: "step",
			Steps: []metrics.Step{{RateOpsPerSec: 100, Held: true}, {RateOpsPerSec: 300, Held: lastHeld}}}}
	}
	tests := []struct {
		rule       string
		fires      metrics.Scenario
		silent     metrics.Scenario
		evidenceOf string // a number the evidence must cite
	}{
		{"host_bound", host(97), host(60), "97%"},
		{"host_steal", steal(23), steal(2), "23%"},
		{"dropped_starts", metrics.Scenario{Load: &metrics.Load{Mode: "open", DroppedStarts: 42}}, metrics.Scenario{Load: &metrics.Load{Mode: "open"}}, "42"},
		{"rate_limited", metrics.Scenario{Operations: []metrics.Operation{{Name: "get", RateLimited: 7, Errors: 7}}},
			metrics.Scenario{Operations: []metrics.Operation{{Name: "get", Count: 10}}}, "7 HTTP 429"},
		{"leader_elections", withScalar("leader_elections", 2), withScalar("leader_elections", 0), "2 election"},
		{"heap_growth", withScalar("heap_slope_mb_per_min", 12.5), withScalar("heap_slope_mb_per_min", 0.3), "12.50 MB/min"},
		{"error_rate", metrics.Scenario{Operations: []metrics.Operation{op(95, 5, 1e6, 2e6)}},
			metrics.Scenario{Operations: []metrics.Operation{op(1000, 1, 1e6, 2e6)}}, "5.00%"},
		{"tail_latency", metrics.Scenario{Operations: []metrics.Operation{op(1000, 0, 1e6, 25e6)}},
			metrics.Scenario{Operations: []metrics.Operation{op(1000, 0, 1e6, 5e6)}}, "25×"},
		{"unfair_balancing", withScalar("jain_fairness", 0.7), withScalar("jain_fairness", 0.99), "0.70"},
		{"contention_knee", withScalar("knee_clients", 10), withScalar("throughput_at_clients_10", 100), "10 clients"},
		{"ramp_lower_bound", steps(true), steps(false), "300 ops/s"},
	}
	cfg := config.Default()
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			recs := Recommend(runOf(tt.fires), &cfg)
			var got *Recommendation
			for i := range recs {
				if recs[i].Rule == tt.rule {
					got = &recs[i]
				}
			}
			if got == nil {
				t.Fatalf("rule %s did not fire on %+v (fired: %+v)", tt.rule, tt.fires, recs)
			}
			if !strings.Contains(got.Evidence, tt.evidenceOf) || got.Advice == "" || got.Finding == "" {
				t.Errorf("recommendation %+v should cite %q", got, tt.evidenceOf)
			}
			for _, r := range Recommend(runOf(tt.silent), &cfg) {
				if r.Rule == tt.rule {
					t.Errorf("rule %s fired on data that does not call for it: %+v", tt.rule, r)
				}
			}
		})
	}
	// Every rule has a test here.
	tested := map[string]bool{}
	for _, tt := range tests {
		tested[tt.rule] = true
	}
	for _, r := range rules {
		if !tested[r.name] {
			t.Errorf("rule %s has no test", r.name)
		}
	}
}

// TestRecommendationsSkipInjectedFaults: errors and a long tail in a
// scenario that killed or paused a node on purpose are its point, not a
// finding for the generic rules.
func TestRecommendationsSkipInjectedFaults(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	s := metrics.Scenario{Name: "faults/leader_failure", Operations: []metrics.Operation{op(100, 50, 1e6, 250e6)},
		Events: []metrics.Event{{Kind: "leader_kill_start"}, {Kind: "leader_kill_stop"}}}
	for _, r := range Recommend(runOf(s), &cfg) {
		if r.Rule == "error_rate" || r.Rule == "tail_latency" {
			t.Errorf("rule %s fired on a deliberate fault: %+v", r.Rule, r)
		}
	}
	s.Events = nil // the same numbers without a fault window do fire
	fired := map[string]bool{}
	for _, r := range Recommend(runOf(s), &cfg) {
		fired[r.Rule] = true
	}
	if !fired["error_rate"] || !fired["tail_latency"] {
		t.Errorf("without a fault window, fired %v; want error_rate and tail_latency", fired)
	}
}

// TestErrorTargetSkipsInjectedFaults: the error-rate target judges the
// cluster's errors, not the ones a fault scenario caused on purpose.
func TestErrorTargetSkipsInjectedFaults(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	fault := metrics.Scenario{Name: "faults/leader_failure", Status: metrics.StatusOK, Operations: []metrics.Operation{op(100, 50, 1e6, 2e6)},
		Events: []metrics.Event{{Kind: "leader_kill_start"}, {Kind: "leader_kill_stop"}}}
	clean := metrics.Scenario{Name: "api/x", Category: "api", Status: metrics.StatusOK, Operations: []metrics.Operation{op(1000, 1, 1e6, 2e6)}}
	run := &metrics.Run{SchemaVersion: 1, Clusters: []metrics.Cluster{{Size: 3, Scenarios: []metrics.Scenario{fault, clean}}}}
	rep, err := Build("x.json", run, &cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Targets {
		if strings.HasPrefix(tr.Name, "error rate") {
			if tr.Status != TargetPass || !strings.Contains(tr.Where, "1 errors in 1001") {
				t.Errorf("error-rate target %+v, want a pass over the 1001 operations outside the fault", tr)
			}
			return
		}
	}
	t.Fatalf("no error-rate target in %+v", rep.Targets)
}
