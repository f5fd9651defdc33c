package report

import (
	"fmt"
	"strings"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// rule looks at a run and returns a recommendation when it fires.
type rule struct {
	name  string
	check func(run *metrics.Run, cfg *config.Config) *Recommendation
}

// rules is every recommendation odbench can make, in output order.
var rules = []rule{
	{"host_bound", hostBound},
	{"host_steal", hostSteal},
	{"dropped_starts", droppedStarts},
	{"rate_limited", rateLimited},
	{"leader_elections", leaderElections},
	{"heap_growth", heapGrowth},
	{"error_rate", errorRate},
	{"tail_latency", tailLatency},
	{"unfair_balancing", unfairBalancing},
	{"contention_knee", contentionKnee},
	{"ramp_lower_bound", rampLowerBound},
}

// Recommend applies every rule; only the rules that fire say anything.
func Recommend(run *metrics.Run, cfg *config.Config) []Recommendation {
	var out []Recommendation
	for _, r := range rules {
		if rec := r.check(run, cfg); rec != nil {
			rec.Rule = r.name
			out = append(out, *rec)
		}
	}
	return out
}

// each calls f for every scenario that ran, to completion or to a failure:
// a failed scenario's measurements are real, and often the reason it failed.
func each(run *metrics.Run, f func(size int, s metrics.Scenario)) {
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			if s.Status != metrics.StatusSkipped {
				f(c.Size, s)
			}
		}
	}
}

// disrupted says whether the scenario broke the cluster on purpose (it
// recorded a "<x>_start" event opening a fault window: a kill, a pause, a
// partition). Its errors and its tail are the point of it, measured by its
// own scalars, so the generic error and tail rules leave it out.
func disrupted(s metrics.Scenario) bool {
	for _, e := range s.Events {
		if strings.HasSuffix(e.Kind, "_start") {
			return true
		}
	}
	return false
}

func scalar(s metrics.Scenario, name string) (float64, bool) {
	for _, sc := range s.Scalars {
		if sc.Name == name && sc.Value != nil {
			return *sc.Value, true
		}
	}
	return 0, false
}

// overThreshold counts the scenario runs whose value (where they have one)
// is above limit and returns the largest such value and where it was.
func overThreshold(run *metrics.Run, limit float64, value func(metrics.Scenario) (float64, bool)) (n int, worst float64, where string) {
	each(run, func(size int, s metrics.Scenario) {
		if v, ok := value(s); ok && v > limit {
			n++
			if v > worst {
				worst, where = v, fmt.Sprintf("%s on %d nodes", s.Name, size)
			}
		}
	})
	return n, worst, where
}

func hostBound(run *metrics.Run, cfg *config.Config) *Recommendation {
	n, worst, where := overThreshold(run, cfg.Execution.HostCPUWarnPercent, func(s metrics.Scenario) (float64, bool) {
		r := s.Resources
		if r == nil || r.Host == nil || r.Host.Samples == 0 {
			return 0, false
		}
		return r.Host.CPUPercentMean, true
	})
	if n == 0 {
		return nil
	}
	return &Recommendation{
		Finding:  fmt.Sprintf("the host, not the cluster, bounded %d scenario run(s)", n),
		Evidence: fmt.Sprintf("host CPU averaged %.0f%% during %s (threshold %.0f%%)", worst, where, cfg.Execution.HostCPUWarnPercent),
		Advice:   "their numbers describe this machine: run the load from other machines against an external cluster (odbench merge adds their histograms), or lower the concurrency",
	}
}

func hostSteal(run *metrics.Run, cfg *config.Config) *Recommendation {
	n, worst, where := overThreshold(run, cfg.Execution.HostStealWarnPercent, func(s metrics.Scenario) (float64, bool) {
		r := s.Resources
		if r == nil || r.Host == nil || r.Host.StealPercentMean == nil {
			return 0, false
		}
		return *r.Host.StealPercentMean, true
	})
	if n == 0 {
		return nil
	}
	return &Recommendation{
		Finding:  fmt.Sprintf("the hypervisor took CPU time from this machine during %d scenario run(s)", n),
		Evidence: fmt.Sprintf("steal averaged %.0f%% during %s (threshold %.0f%%)", worst, where, cfg.Execution.HostStealWarnPercent),
		Advice:   "this is a shared virtual machine and its neighbours slowed it: repeat with --count 5 so that compare weighs several samples instead of one, or run on a dedicated machine",
	}
}

func droppedStarts(run *metrics.Run, _ *config.Config) *Recommendation {
	var worst int64
	var where string
	each(run, func(size int, s metrics.Scenario) {
		if s.Load != nil && s.Load.DroppedStarts > worst {
			worst, where = s.Load.DroppedStarts, fmt.Sprintf("%s on %d nodes (%d in flight at most)", s.Name, size, s.Load.MaxInFlight)
		}
	})
	if worst == 0 {
		return nil
	}
	return &Recommendation{
		Finding:  "an open-loop scenario could not start every request on time",
		Evidence: fmt.Sprintf("%d intended starts never began in %s", worst, where),
		Advice:   "every worker was busy: the target was saturated at that rate; raise api.max_in_flight to measure the queueing, or lower the rate",
	}
}

func rateLimited(run *metrics.Run, _ *config.Config) *Recommendation {
	var total int64
	var where string
	each(run, func(size int, s metrics.Scenario) {
		for _, op := range s.Operations {
			if op.RateLimited > 0 && where == "" {
				where = fmt.Sprintf("%s · %s on %d nodes", s.Name, op.Name, size)
			}
			total += op.RateLimited
		}
	})
	if total == 0 {
		return nil
	}
	return &Recommendation{
		Finding:  "the target rate-limited the load generator",
		Evidence: fmt.Sprintf("%d HTTP 429 answers, first in %s", total, where),
		Advice:   "the numbers measure the rate limiter, not the cluster: raise the target's per-client limit (ollama-distributed: 100 requests/min per IP) or spread the load over several client IPs",
	}
}

func leaderElections(run *metrics.Run, _ *config.Config) *Recommendation {
	var total float64
	var where string
	each(run, func(size int, s metrics.Scenario) {
		if v, ok := scalar(s, "leader_elections"); ok && v > 0 {
			total += v
			if where == "" {
				where = fmt.Sprintf("%s on %d nodes", s.Name, size)
			}
		}
	})
	if total == 0 {
		return nil
	}
	return &Recommendation{
		Finding:  "Raft held leader elections on a cluster nobody disturbed",
		Evidence: fmt.Sprintf("%.0f election(s), first during %s", total, where),
		Advice:   "heartbeats arrived late: raise the Raft heartbeat and election timeouts, or relieve the host (see host_bound)",
	}
}

func heapGrowth(run *metrics.Run, cfg *config.Config) *Recommendation {
	limit := cfg.Memory.LeakSlopeMBPerMin
	var worst float64
	var where string
	each(run, func(size int, s metrics.Scenario) {
		if v, ok := scalar(s, "heap_slope_mb_per_min"); ok && v > worst {
			worst, where = v, fmt.Sprintf("%s on %d nodes", s.Name, size)
		}
	})
	if worst <= limit {
		return nil
	}
	return &Recommendation{
		Finding:  "a node's live heap kept growing under steady load",
		Evidence: fmt.Sprintf("%.2f MB/min during %s (leak threshold %g MB/min)", worst, where, limit),
		Advice:   "a possible leak: compare heap profiles from the node's /debug/pprof/heap taken a few minutes apart",
	}
}

func errorRate(run *metrics.Run, cfg *config.Config) *Recommendation {
	limit := cfg.Targets.ErrorRatePercent
	if limit <= 0 {
		return nil
	}
	var worst float64
	var where string
	var kinds map[string]int64
	each(run, func(size int, s metrics.Scenario) {
		t := metrics.RequestErrors(s)
		if r := 100 * t.Rate(); r > worst {
			worst, where, kinds = r, fmt.Sprintf("%s on %d nodes", s.Name, size), t.ByKind
		}
	})
	if worst <= limit {
		return nil
	}
	return &Recommendation{
		Finding:  "requests failed more often than the error-rate target allows",
		Evidence: fmt.Sprintf("%.2f%% of requests failed in %s (target %g%%), by kind %s", worst, where, limit, metrics.FormatKinds(kinds)),
		Advice:   "the kinds tell where to look: timeouts point at overload, http_5xx at the target, refused and reset at crashed or restarted nodes (see the node logs beside the results)",
	}
}

func tailLatency(run *metrics.Run, _ *config.Config) *Recommendation {
	const ratio, minCount = 10.0, 100
	var worst float64
	var where string
	var p50, p99 int64
	each(run, func(size int, s metrics.Scenario) {
		if disrupted(s) {
			return
		}
		for _, op := range s.Operations {
			if op.Count < minCount || op.Latency.P50Ns <= 0 {
				continue
			}
			if r := float64(op.Latency.P99Ns) / float64(op.Latency.P50Ns); r > worst {
				worst, where, p50, p99 = r, fmt.Sprintf("%s · %s on %d nodes", s.Name, op.Name, size), op.Latency.P50Ns, op.Latency.P99Ns
			}
		}
	})
	if worst <= ratio {
		return nil
	}
	return &Recommendation{
		Finding:  "the latency tail is far from the median",
		Evidence: fmt.Sprintf("p99 %.2f ms is %.0f× p50 %.2f ms in %s", ms(p99), worst, ms(p50), where),
		Advice:   "look for queueing, lock contention or GC pauses at the moments the per-second timeline shows; the node's /debug/pprof is served for that",
	}
}

func unfairBalancing(run *metrics.Run, _ *config.Config) *Recommendation {
	worst, where := 1.0, ""
	each(run, func(size int, s metrics.Scenario) {
		if v, ok := scalar(s, "jain_fairness"); ok && v < worst {
			worst, where = v, fmt.Sprintf("%s on %d nodes", s.Name, size)
		}
	})
	if worst >= 0.9 {
		return nil
	}
	return &Recommendation{
		Finding:  "a scheduling policy spread requests unevenly",
		Evidence: fmt.Sprintf("Jain's fairness index %.2f in %s (1 is even)", worst, where),
		Advice:   "compare the per-node shares in that scenario: a policy that keeps sending to a busy or slow node will cap the cluster's throughput",
	}
}

func contentionKnee(run *metrics.Run, _ *config.Config) *Recommendation {
	var out *Recommendation
	each(run, func(size int, s metrics.Scenario) {
		if v, ok := scalar(s, "knee_clients"); ok && out == nil {
			out = &Recommendation{
				Finding:  "throughput stops growing with more clients",
				Evidence: fmt.Sprintf("past %.0f clients in %s on %d nodes, throughput grew < 10%% while p99 grew > 50%%", v, s.Name, size),
				Advice:   fmt.Sprintf("size client pools and connection limits around %.0f; more concurrency only adds queueing", v),
			}
		}
	})
	return out
}

func rampLowerBound(run *metrics.Run, _ *config.Config) *Recommendation {
	var out *Recommendation
	each(run, func(size int, s metrics.Scenario) {
		if s.Load == nil || len(s.Load.Steps) == 0 || out != nil {
			return
		}
		last := s.Load.Steps[len(s.Load.Steps)-1]
		if last.Held {
			out = &Recommendation{
				Finding:  "the stress ramp ended before anything broke",
				Evidence: fmt.Sprintf("%s on %d nodes held every step up to %.0f ops/s", s.Name, size, last.RateOpsPerSec),
				Advice:   "the maximum sustainable rate is higher than measured: raise concurrency.max_steps or step_increment",
			}
		}
	})
	return out
}
