package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// targets judges the configured targets. Throughput and latency targets
// are about the API (api/* scenarios), as in the older framework.
func (r *Report) targets(t config.Targets) {
	type best struct {
		v     float64
		where string
		ok    bool
	}
	tput := map[int]*best{}
	var worst [3]best // p50, p95, p99 (ms), the worst api operation
	var cpu, rss best
	var errs, total int64
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			if s.Status == metrics.StatusSkipped {
				continue
			}
			// The error rate counts requests of every scenario that ran,
			// failed ones included, outside injected fault windows.
			tally := metrics.RequestErrors(s)
			errs += tally.Errors
			total += tally.Requests
			if s.Status != metrics.StatusOK {
				continue
			}
			for _, op := range s.Operations {
				if s.Category != "api" || op.Count == 0 {
					continue
				}
				where := fmt.Sprintf("%s · %s on %d nodes", s.Name, op.Name, c.Size)
				if b := tput[c.Size]; b == nil || op.ThroughputOpsPerSec > b.v {
					tput[c.Size] = &best{op.ThroughputOpsPerSec, where, true}
				}
				if op.Name == "generate" || op.Name == "chat" {
					continue // their time is num_predict × token time: a workload setting, not API speed
				}
				for i, v := range []int64{op.Latency.P50Ns, op.Latency.P95Ns, op.Latency.P99Ns} {
					if ms(v) > worst[i].v || !worst[i].ok {
						worst[i] = best{ms(v), where, true}
					}
				}
			}
			if s.Resources != nil {
				for _, n := range s.Resources.Nodes {
					if n.ID == "odbench" {
						continue
					}
					where := fmt.Sprintf("node %s during %s on %d nodes", n.ID, s.Name, c.Size)
					if !cpu.ok || n.CPUPercentMean > cpu.v {
						cpu = best{n.CPUPercentMean, where, true}
					}
					if mib := float64(n.RSSBytesMax) / (1 << 20); !rss.ok || mib > rss.v {
						rss = best{mib, where, true}
					}
				}
			}
		}
	}
	add := func(name, target string, b best, pass func(float64) bool, format, why string) {
		tr := TargetResult{Name: name, Target: target}
		if !b.ok {
			tr.Status, tr.Measured = TargetNotMeasured, why
		} else {
			tr.Measured, tr.Where = fmt.Sprintf(format, b.v), b.where
			tr.Status = TargetFail
			if pass(b.v) {
				tr.Status = TargetPass
			}
		}
		r.Targets = append(r.Targets, tr)
	}
	var sizes []string
	for s := range t.ThroughputRPS {
		sizes = append(sizes, s)
	}
	sort.Slice(sizes, func(i, j int) bool { return atoi(sizes[i]) < atoi(sizes[j]) })
	for _, s := range sizes {
		min := t.ThroughputRPS[s]
		if min <= 0 {
			continue
		}
		b := best{}
		if v := tput[atoi(s)]; v != nil {
			b = *v
		}
		add("throughput, "+s+" nodes", fmt.Sprintf(">= %g req/s", min), b, func(v float64) bool { return v >= min },
			"%.0f req/s", "no api scenario ran on a cluster of "+s)
	}
	for i, d := range []time.Duration{t.LatencyP50, t.LatencyP95, t.LatencyP99} {
		if d <= 0 {
			continue
		}
		lim := ms(d.Nanoseconds())
		add(fmt.Sprintf("latency %s (worst api operation but generate and chat)", []string{"p50", "p95", "p99"}[i]), fmt.Sprintf("<= %v", d), worst[i],
			func(v float64) bool { return v <= lim }, "%.2f ms", "no api scenario ran")
	}
	if t.CPUPercent > 0 {
		add("CPU per node (highest scenario mean, % of one core)", fmt.Sprintf("<= %g%%", t.CPUPercent), cpu, func(v float64) bool { return v <= t.CPUPercent },
			"%.0f%%", "no scenario that ran to completion sampled a node process (odbench samples only nodes it started)")
	}
	if t.MemoryPerNodeMB > 0 {
		add("memory per node (peak RSS)", fmt.Sprintf("<= %g MB", t.MemoryPerNodeMB), rss, func(v float64) bool { return v*1.048576 <= t.MemoryPerNodeMB },
			"%.0f MiB", "no scenario that ran to completion sampled a node process (odbench samples only nodes it started)")
	}
	if t.ErrorRatePercent > 0 {
		b := best{}
		if total > 0 {
			b = best{100 * float64(errs) / float64(total), fmt.Sprintf("%d errors in %d requests", errs, total), true}
		}
		add("error rate (requests, outside injected fault windows)", fmt.Sprintf("<= %g%%", t.ErrorRatePercent), b, func(v float64) bool { return v <= t.ErrorRatePercent },
			"%.2f%%", "no request ran")
	}
}

// TargetsMissed counts the targets that failed.
func (r *Report) TargetsMissed() int {
	n := 0
	for _, t := range r.Targets {
		if t.Status == TargetFail {
			n++
		}
	}
	return n
}

func atoi(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
}
