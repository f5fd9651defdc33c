package report

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// Report is everything a rendered report shows, computed from one run.
type Report struct {
	File            string           `json:"file"`
	System          []KV             `json:"system"`
	Findings        []string         `json:"key_findings"`
	Categories      []CategoryTable  `json:"categories"`
	Scalability     []ScalingRow     `json:"scalability"`
	Resources       []ResourceRow    `json:"resources"`
	Checks          []CheckRow       `json:"checks"`
	Faults          []FaultRow       `json:"faults,omitempty"`
	Consistency     []ConsistencyRow `json:"consistency,omitempty"`
	Targets         []TargetResult   `json:"targets"`
	Regression      *Comparison      `json:"regression,omitempty"`
	Recommendations []Recommendation `json:"recommendations"`
	Warnings        []string         `json:"warnings,omitempty"`

	run *metrics.Run
}

// KV is one labelled value.
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// CategoryTable lists one category's scenario results.
type CategoryTable struct {
	Category string     `json:"category"`
	Rows     []OpRow    `json:"rows"`
	Skipped  []SkipNote `json:"skipped,omitempty"`
}

// OpRow is one operation of one scenario run.
type OpRow struct {
	Size       int     `json:"size"`
	Scenario   string  `json:"scenario"`
	Repetition int     `json:"repetition"`
	Status     string  `json:"status"`
	Operation  string  `json:"operation,omitempty"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P95Ms      float64 `json:"p95_ms"`
	P99Ms      float64 `json:"p99_ms"`
	ErrorPct   float64 `json:"error_pct"`
	Note       string  `json:"note,omitempty"`
}

// CheckRow is one check of one scenario run, passed or not.
type CheckRow struct {
	Size       int    `json:"size"`
	Scenario   string `json:"scenario"`
	Repetition int    `json:"repetition"`
	Name       string `json:"name"`
	// Severity is fail (a failed one failed its scenario) or warn (advisory).
	Severity string `json:"severity"`
	Passed   bool   `json:"passed"`
	Detail   string `json:"detail,omitempty"`
}

// SkipNote says why a scenario did not run.
type SkipNote struct {
	Size     int    `json:"size"`
	Scenario string `json:"scenario"`
	Reason   string `json:"reason"`
}

// ScalingRow is one scenario's throughput at each cluster size.
type ScalingRow struct {
	Scenario string `json:"scenario"`
	Metric   string `json:"metric"`
	// Throughput per cluster size, in the metric's unit per second.
	Throughput map[int]float64 `json:"throughput"`
	// Efficiency is T(n) / (n * T(1)) per size where scaling is expected; nil where not.
	Efficiency map[int]float64 `json:"efficiency,omitempty"`
	Expected   bool            `json:"scaling_expected"`
	// HostBound lists the sizes at which a repetition's load machine was
	// CPU-bound: those figures may describe the machine.
	HostBound []int `json:"host_bound,omitempty"`
}

// ResourceRow summarizes one process (or the host) at one cluster size.
type ResourceRow struct {
	Size       int     `json:"size"`
	Process    string  `json:"process"` // node ID, "odbench" or "host"
	CPUMean    float64 `json:"cpu_percent_mean"`
	CPUMax     float64 `json:"cpu_percent_max"`
	RSSMaxMiB  float64 `json:"rss_max_mib,omitempty"`
	NetMiBSent float64 `json:"net_mib_sent,omitempty"`
	Scenarios  int     `json:"scenarios"`
}

// TargetResult is one configured target.
type TargetResult struct {
	Name     string `json:"name"`
	Target   string `json:"target"`
	Measured string `json:"measured"`
	Where    string `json:"where,omitempty"`
	// Status is pass, fail or not measured.
	Status string `json:"status"`
}

// Target statuses.
const (
	TargetPass        = "pass"
	TargetFail        = "fail"
	TargetNotMeasured = "not measured"
)

// Recommendation is one rule that fired, with the number that fired it.
type Recommendation struct {
	Rule     string `json:"rule"`
	Finding  string `json:"finding"`
	Evidence string `json:"evidence"`
	Advice   string `json:"advice"`
}

// scalingExpected reports whether a scenario's throughput should grow
// linearly with nodes: only the saturation scenario, which loads every
// node's inference slots to measure exactly that. A fixed client count or
// rate sets its own throughput, consensus writes go through one leader, and
// on one host every node shares its CPU; those show only T(n)/T(1).
func scalingExpected(name string) bool { return strings.HasSuffix(name, "/saturation") }

// Build computes the report of run against cfg's targets; baseline, when
// not nil, adds the regression analysis.
//
// The report of an interleaved A/B run (run --ab) describes its current
// side, with its baseline side as the baseline unless one is given.
func Build(file string, run *metrics.Run, cfg *config.Config, baseline *metrics.Run) (*Report, error) {
	ab := false
	if base, cur, ok := metrics.SplitSides(run); ok {
		ab, run = true, cur
		if baseline == nil {
			baseline = base
		}
	}
	r := &Report{File: file, run: run, Warnings: run.Warnings}
	r.system()
	if ab {
		r.System = append(r.System, KV{"A/B run", "this report describes the current side; its Regression Analysis compares it with the baseline side"})
	}
	r.categories()
	r.scalability()
	r.resources()
	r.checks()
	r.faults()
	r.targets(cfg.Targets)
	if baseline != nil {
		cmp, err := Compare(baseline, run, cfg.Regression, Options{})
		if err != nil {
			return nil, err
		}
		r.Regression = cmp
	}
	r.Recommendations = Recommend(run, cfg)
	r.findings()
	return r, nil
}

func (r *Report) system() {
	h, run := r.run.Host, r.run
	add := func(k, v string) {
		if v != "" {
			r.System = append(r.System, KV{k, v})
		}
	}
	add("odbench", strings.TrimSpace(run.Tool.Version+" "+short(run.Tool.Commit)))
	add("Target", run.Target.Description)
	add("Status", run.Status)
	add("Started", run.StartedAt.Format(time.RFC3339))
	add("Duration", run.EndedAt.Sub(run.StartedAt).Round(time.Second).String())
	add("OS", strings.TrimSpace(fmt.Sprintf("%s/%s %s", h.OS, h.Arch, h.Kernel)))
	add("CPU", strings.TrimPrefix(fmt.Sprintf("%s, %d cores", h.CPUModel, h.Cores), ", "))
	if h.MemoryBytes > 0 {
		add("Memory", fmt.Sprintf("%.1f GiB", float64(h.MemoryBytes)/(1<<30)))
	}
	add("Go", h.GoVersion)
	add("Scenario runs", fmt.Sprintf("%d: %d ok, %d failed, %d skipped", run.Summary.Scenarios, run.Summary.OK, run.Summary.Failed, run.Summary.Skipped))
}

func short(commit string) string {
	if len(commit) > 12 {
		return "(" + commit[:12] + ")"
	}
	if commit != "" {
		return "(" + commit + ")"
	}
	return ""
}

func (r *Report) categories() {
	byCat := map[string]*CategoryTable{}
	var order []string
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			t := byCat[s.Category]
			if t == nil {
				t = &CategoryTable{Category: s.Category}
				byCat[s.Category] = t
				order = append(order, s.Category)
			}
			if s.Status == metrics.StatusSkipped {
				t.Skipped = append(t.Skipped, SkipNote{c.Size, s.Name, s.Reason})
				continue
			}
			note := s.Error
			if note == "" && len(s.Warnings) > 0 {
				note = s.Warnings[0]
			}
			if len(s.Operations) == 0 {
				t.Rows = append(t.Rows, OpRow{Size: c.Size, Scenario: s.Name, Repetition: s.Repetition, Status: s.Status, Note: note})
				continue
			}
			for _, op := range s.Operations {
				t.Rows = append(t.Rows, OpRow{Size: c.Size, Scenario: s.Name, Repetition: s.Repetition, Status: s.Status,
					Operation: op.Name, OpsPerSec: op.ThroughputOpsPerSec, P50Ms: ms(op.Latency.P50Ns), P95Ms: ms(op.Latency.P95Ns),
					P99Ms: ms(op.Latency.P99Ns), ErrorPct: 100 * op.ErrorRate(), Note: note})
				note = ""
			}
		}
	}
	sortByCategory(order)
	for _, c := range order {
		r.Categories = append(r.Categories, *byCat[c])
	}
}

func sortByCategory(cats []string) {
	rank := map[string]int{}
	for i, c := range config.Categories() {
		rank[c] = i
	}
	sort.SliceStable(cats, func(i, j int) bool { return rank[cats[i]] < rank[cats[j]] })
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// scenarioThroughput is a scenario's headline rate: its saturated_rps or
// requests_per_s scalar when it has one, else its first operation's.
func scenarioThroughput(s metrics.Scenario) (float64, string, bool) {
	for _, name := range []string{"saturated_rps", "requests_per_s"} {
		for _, sc := range s.Scalars {
			if sc.Name == name && sc.Value != nil {
				return *sc.Value, name, true
			}
		}
	}
	if len(s.Operations) > 0 {
		return s.Operations[0].ThroughputOpsPerSec, s.Operations[0].Name + " ops/s", true
	}
	return 0, "", false
}

func (r *Report) scalability() {
	type acc struct {
		metric string
		sum    map[int]float64
		n      map[int]int
		cat    string
		bound  map[int]bool
	}
	all := map[string]*acc{}
	var names []string
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			if s.Status != metrics.StatusOK || (s.Load != nil && s.Load.Mode == "open") {
				continue // an open loop's throughput is its rate
			}
			v, metric, ok := scenarioThroughput(s)
			if !ok {
				continue
			}
			a := all[s.Name]
			if a == nil {
				a = &acc{metric: metric, sum: map[int]float64{}, n: map[int]int{}, cat: s.Category, bound: map[int]bool{}}
				all[s.Name] = a
				names = append(names, s.Name)
			}
			a.sum[c.Size] += v
			a.n[c.Size]++
			a.bound[c.Size] = a.bound[c.Size] || s.HostBound
		}
	}
	sort.Strings(names)
	for _, name := range names {
		a := all[name]
		if len(a.sum) < 2 {
			continue
		}
		row := ScalingRow{Scenario: name, Metric: a.metric, Throughput: map[int]float64{}, Expected: scalingExpected(name)}
		for size, sum := range a.sum {
			row.Throughput[size] = sum / float64(a.n[size])
		}
		if t1, ok := row.Throughput[1]; ok && t1 > 0 && row.Expected {
			row.Efficiency = map[int]float64{}
			for size, t := range row.Throughput {
				row.Efficiency[size] = t / (float64(size) * t1)
			}
		}
		for _, n := range sortedKeys(a.bound) {
			if a.bound[n] {
				row.HostBound = append(row.HostBound, n)
			}
		}
		r.Scalability = append(r.Scalability, row)
	}
}

func (r *Report) resources() {
	for _, c := range r.run.Clusters {
		rows := map[string]*ResourceRow{}
		var order []string
		get := func(name string) *ResourceRow {
			if rows[name] == nil {
				rows[name] = &ResourceRow{Size: c.Size, Process: name}
				order = append(order, name)
			}
			return rows[name]
		}
		for _, s := range c.Scenarios {
			res := s.Resources
			if res == nil {
				continue
			}
			if h := res.Host; h != nil && h.Samples > 0 {
				row := get("host")
				row.CPUMean += h.CPUPercentMean
				row.CPUMax = max(row.CPUMax, h.CPUPercentMax)
				row.NetMiBSent += float64(h.NetSentBytes) / (1 << 20)
				row.Scenarios++
			}
			for _, n := range res.Nodes {
				row := get(n.ID)
				row.CPUMean += n.CPUPercentMean
				row.CPUMax = max(row.CPUMax, n.CPUPercentMax)
				row.RSSMaxMiB = max(row.RSSMaxMiB, float64(n.RSSBytesMax)/(1<<20))
				row.Scenarios++
			}
		}
		sort.Strings(order)
		for _, name := range order {
			row := rows[name]
			row.CPUMean /= float64(row.Scenarios)
			r.Resources = append(r.Resources, *row)
		}
	}
}

func (r *Report) checks() {
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			for _, ch := range s.Checks {
				r.Checks = append(r.Checks, CheckRow{Size: c.Size, Scenario: s.Name, Repetition: s.Repetition,
					Name: ch.Name, Severity: ch.Severity, Passed: ch.Passed, Detail: ch.Detail})
			}
		}
	}
}

// ChecksFailed counts the failed checks of severity fail and of severity warn.
func (r *Report) ChecksFailed() (fail, warn int) {
	for _, c := range r.Checks {
		switch {
		case c.Passed:
		case c.Severity == metrics.SeverityFail:
			fail++
		default:
			warn++
		}
	}
	return fail, warn
}

func sizesOf(run *metrics.Run) string {
	var s []string
	for _, c := range run.Clusters {
		s = append(s, fmt.Sprint(c.Size))
	}
	return strings.Join(s, ", ")
}
