package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
)

// maxListed bounds the items one finding lists by name.
const maxListed = 5

// findings writes the Key Findings: what a reader acts on, each with its
// number. The run's outcome; checks that failed and linearizability
// violations; regressions against the baseline; targets missed; scaling
// efficiency where scaling is expected; the knee of every closed-loop
// family; how many recommendations the data fired.
func (r *Report) findings() {
	run := r.run
	add := func(format string, args ...any) { r.Findings = append(r.Findings, fmt.Sprintf(format, args...)) }
	add("%d scenario runs on cluster sizes %s: %d ok, %d failed, %d skipped.",
		run.Summary.Scenarios, sizesOf(run), run.Summary.OK, run.Summary.Failed, run.Summary.Skipped)

	var failed, warned []string
	for _, c := range r.Checks {
		if c.Passed {
			continue
		}
		what := fmt.Sprintf("%s in %s on %s", c.Name, c.Scenario, nodesLabel(c.Size))
		if c.Severity == metrics.SeverityFail {
			failed = append(failed, what)
		} else {
			warned = append(warned, what)
		}
	}
	switch {
	case len(failed)+len(warned) > 0:
		text := fmt.Sprintf("%d of %d checks failed: %d of severity fail, failing their scenarios", len(failed)+len(warned), len(r.Checks), len(failed))
		if len(failed) > 0 {
			text += " (" + listed(failed) + ")"
		}
		text += fmt.Sprintf(", %d warnings", len(warned))
		if len(warned) > 0 {
			text += " (" + listed(warned) + ")"
		}
		add("%s.", text)
	case len(r.Checks) > 0:
		add("All %d checks passed.", len(r.Checks))
	}
	for _, c := range r.Consistency {
		if c.Verdict != "linearizable" {
			where := ""
			if c.Visualization != "" {
				where = "; drawn in " + c.Visualization
			}
			add("%s on %s: the key-value history of %d operations is %s%s.", c.Scenario, nodesLabel(c.Size), c.Operations, strings.ToUpper(c.Verdict), where)
		}
	}
	if r.Regression != nil {
		regs := r.Regression.Regressions()
		sort.SliceStable(regs, func(i, j int) bool { return abs(regs[i].DeltaPct) > abs(regs[j].DeltaPct) })
		var names []string
		for _, g := range regs {
			names = append(names, fmt.Sprintf("%s %s %+.0f%%", g.Key, g.Metric, g.DeltaPct))
		}
		if len(names) > 0 {
			add("%d regressions against the baseline, the largest first: %s.", len(regs), listed(names))
		} else {
			add("No regression against the baseline.")
		}
	}
	var missed []string
	for _, t := range r.Targets {
		if t.Status == TargetFail {
			missed = append(missed, fmt.Sprintf("%s (%s, goal %s)", t.Name, t.Measured, t.Target))
		}
	}
	if len(missed) > 0 {
		add("%d of %d targets missed: %s.", len(missed), len(r.Targets), listed(missed))
	}
	for _, row := range r.Scalability {
		if !row.Expected || len(row.Efficiency) == 0 {
			continue
		}
		var sizes []int
		for n := range row.Throughput {
			sizes = append(sizes, n)
		}
		sort.Ints(sizes)
		lo, hi := sizes[0], sizes[len(sizes)-1]
		if e, ok := row.Efficiency[hi]; ok && hi != lo {
			add("%s scales at %.0f%% of linear from %s to %s (%.0f to %.0f %s).", row.Scenario, 100*e,
				nodesLabel(lo), nodesLabel(hi), row.Throughput[lo], row.Throughput[hi], row.Metric)
		}
	}
	var knees []string
	for _, cat := range r.Categories {
		for _, fam := range r.families(cat.Category) {
			if k, ok := fam.knee(); ok {
				next := k
				for _, n := range fam.levels() {
					if n > k {
						next = n
						break
					}
				}
				knees = append(knees, fmt.Sprintf("%s/%s on %s at %d clients (to %d: throughput %+.0f%%, p99 ×%.1f)",
					cat.Category, fam.name, nodesLabel(fam.size), k, next,
					100*(fam.tput[next]/fam.tput[k]-1), fam.p99s[next]/fam.p99s[k]))
			}
		}
	}
	if len(knees) > 0 {
		add("Knees, past which more clients add latency rather than throughput: %s.", listed(knees))
	}
	if len(r.Recommendations) > 0 {
		add("%d recommendation(s) from the data (see Recommendations).", len(r.Recommendations))
	}
}

// listed joins up to maxListed items, saying how many more there are.
func listed(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:maxListed], "; ") + fmt.Sprintf("; and %d more", len(items)-maxListed)
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
