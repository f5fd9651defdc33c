package report

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"golang.org/x/perf/benchmath"
)

// ErrNothingInCommon: the two runs share no (cluster size, scenario,
// operation); there is nothing to compare.
var ErrNothingInCommon = errors.New("the two results files have no scenario in common")

// Verdicts of one metric's comparison.
const (
	Regression    = "regression"
	Improvement   = "improvement"
	NoChange      = "no change" // within the tolerance (or not significant)
	Insignificant = "not significant"
)

// Methods of judging.
const (
	MethodUTest     = "mann-whitney"
	MethodTolerance = "tolerance only"
)

// Metric describes one compared metric.
type Metric struct {
	Name string
	Unit string
	// HigherIsBetter: throughput; the others are better lower.
	HigherIsBetter bool
	// Absolute: the tolerance is in the metric's own unit (percentage points
	// of error rate), not a percent of the baseline.
	Absolute bool
}

// Metrics are the metrics Compare judges, in output order.
var Metrics = []Metric{
	{Name: "throughput", Unit: "ops/s", HigherIsBetter: true},
	{Name: "p50", Unit: "ms"},
	{Name: "p95", Unit: "ms"},
	{Name: "p99", Unit: "ms"},
	{Name: "error_rate", Unit: "%", Absolute: true},
	{Name: "peak_rss", Unit: "MiB"},
}

// Key names what is compared.
type Key struct {
	Size      int    `json:"size"`
	Scenario  string `json:"scenario"`
	Operation string `json:"operation"` // "" for scenario-wide metrics (peak RSS)
}

func (k Key) String() string {
	s := fmt.Sprintf("%d nodes %s", k.Size, k.Scenario)
	if k.Operation != "" {
		s += " · " + k.Operation
	}
	return s
}

// Row is one metric of one key.
type Row struct {
	Key
	Metric    string  `json:"metric"`
	Unit      string  `json:"unit"`
	Baseline  float64 `json:"baseline"` // median over repetitions
	Current   float64 `json:"current"`
	DeltaPct  float64 `json:"delta_pct"` // (current - baseline) / baseline; for absolute metrics, current - baseline
	Tolerance float64 `json:"tolerance"` // percent, or points for absolute metrics
	// P is the U test's p-value; nil when the tolerance alone judged.
	P       *float64 `json:"p,omitempty"`
	N1      int      `json:"n_baseline"`
	N2      int      `json:"n_current"`
	Method  string   `json:"method"`
	Verdict string   `json:"verdict"`
	Note    string   `json:"note,omitempty"`
}

// Comparison is the whole outcome.
type Comparison struct {
	Baseline, Current string   // file names, for the output
	Rows              []Row    `json:"rows"`
	OnlyBaseline      []string `json:"only_in_baseline,omitempty"`
	OnlyCurrent       []string `json:"only_in_current,omitempty"`
	Notes             []string `json:"notes,omitempty"`
}

// Regressions returns the rows judged regressions.
func (c *Comparison) Regressions() []Row {
	var out []Row
	for _, r := range c.Rows {
		if r.Verdict == Regression {
			out = append(out, r)
		}
	}
	return out
}

// samples gathers, per key and metric, one value per repetition.
type samples map[Key]map[string][]float64

// hostBoundKeys lists the (size, scenario) keys with a host-bound repetition.
func hostBoundKeys(run *metrics.Run) map[Key]bool {
	out := map[Key]bool{}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			if s.HostBound {
				out[Key{Size: c.Size, Scenario: s.Name}] = true
			}
		}
	}
	return out
}

func collect(run *metrics.Run) samples {
	out := samples{}
	add := func(k Key, m string, v float64) {
		if out[k] == nil {
			out[k] = map[string][]float64{}
		}
		out[k][m] = append(out[k][m], v)
	}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			if s.Status != metrics.StatusOK {
				continue
			}
			for _, op := range s.Operations {
				k := Key{Size: c.Size, Scenario: s.Name, Operation: op.Name}
				add(k, "throughput", op.ThroughputOpsPerSec)
				if op.Count > 0 {
					add(k, "p50", float64(op.Latency.P50Ns)/1e6)
					add(k, "p95", float64(op.Latency.P95Ns)/1e6)
					add(k, "p99", float64(op.Latency.P99Ns)/1e6)
				}
				add(k, "error_rate", 100*op.ErrorRate())
			}
			if s.Resources != nil {
				var peak uint64
				for _, n := range s.Resources.Nodes {
					if n.ID != "odbench" {
						peak = max(peak, n.RSSBytesMax)
					}
				}
				if peak > 0 {
					add(Key{Size: c.Size, Scenario: s.Name}, "peak_rss", float64(peak)/(1<<20))
				}
			}
		}
	}
	return out
}

// tolerance returns the tolerance of metric m for scenario: the longest
// matching regression.scenarios prefix, else regression.metrics[m], else
// tolerance_percent (error rate: 1 percentage point unless set).
func tolerance(r config.Regression, m Metric, scenario string) float64 {
	best, bestLen := -1.0, -1
	for prefix, v := range r.Scenarios {
		if strings.HasPrefix(scenario, prefix) && len(prefix) > bestLen {
			best, bestLen = v, len(prefix)
		}
	}
	if bestLen >= 0 && !m.Absolute {
		return best
	}
	if v, ok := r.Metrics[m.Name]; ok {
		return v
	}
	if m.Absolute {
		return 1
	}
	return r.TolerancePercent
}

// Compare judges current against baseline with the regression settings.
func Compare(baseline, current *metrics.Run, r config.Regression) (*Comparison, error) {
	base, cur := collect(baseline), collect(current)
	cmp := &Comparison{}
	var keys []Key
	for k := range base {
		if _, ok := cur[k]; ok {
			keys = append(keys, k)
		} else {
			cmp.OnlyBaseline = append(cmp.OnlyBaseline, k.String())
		}
	}
	for k := range cur {
		if _, ok := base[k]; !ok {
			cmp.OnlyCurrent = append(cmp.OnlyCurrent, k.String())
		}
	}
	sort.Strings(cmp.OnlyBaseline)
	sort.Strings(cmp.OnlyCurrent)
	if len(keys) == 0 {
		return cmp, ErrNothingInCommon
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Size != b.Size {
			return a.Size < b.Size
		}
		if a.Scenario != b.Scenario {
			return a.Scenario < b.Scenario
		}
		return a.Operation < b.Operation
	})
	thresholds := benchmath.DefaultThresholds
	thresholds.CompareAlpha = r.Alpha
	tolOnly := false
	baseBound, curBound := hostBoundKeys(baseline), hostBoundKeys(current)
	boundChanges := 0
	for _, k := range keys {
		for _, m := range Metrics {
			b, c := base[k][m.Name], cur[k][m.Name]
			if len(b) == 0 || len(c) == 0 {
				continue
			}
			row := Row{Key: k, Metric: m.Name, Unit: m.Unit, Baseline: median(b), Current: median(c), N1: len(b), N2: len(c),
				Tolerance: tolerance(r, m, k.Scenario)}
			var worse bool
			var size float64 // the change's size, against the tolerance
			if m.Absolute {
				row.DeltaPct = row.Current - row.Baseline
				size = math.Abs(row.DeltaPct)
				worse = row.DeltaPct > 0
			} else {
				if row.Baseline == 0 {
					row.Method, row.Verdict = MethodTolerance, NoChange
					row.Note = "baseline is 0: no relative change"
					cmp.Rows = append(cmp.Rows, row)
					continue
				}
				row.DeltaPct = 100 * (row.Current - row.Baseline) / row.Baseline
				size = math.Abs(row.DeltaPct)
				worse = (row.DeltaPct < 0) == m.HigherIsBetter && row.DeltaPct != 0
			}
			significant := true
			if len(b) >= r.MinSamples && len(c) >= r.MinSamples {
				res := benchmath.AssumeNothing.Compare(benchmath.NewSample(b, &thresholds), benchmath.NewSample(c, &thresholds))
				p := res.P
				row.P, row.Method = &p, MethodUTest
				significant = res.P < res.Alpha
				for _, w := range res.Warnings {
					row.Note = w.Error()
				}
			} else {
				row.Method = MethodTolerance
				tolOnly = true
			}
			switch {
			case size <= row.Tolerance:
				row.Verdict = NoChange
			case !significant:
				row.Verdict = Insignificant
			case worse:
				row.Verdict = Regression
			default:
				row.Verdict = Improvement
			}
			if sk := (Key{Size: k.Size, Scenario: k.Scenario}); (baseBound[sk] || curBound[sk]) && row.Verdict != NoChange {
				row.Note = strings.TrimSpace(row.Note + " host-bound on " + sides(baseBound[sk], curBound[sk]) + ": may measure the machine, not the build")
				boundChanges++
			}
			cmp.Rows = append(cmp.Rows, row)
		}
	}
	if boundChanges > 0 {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf(
			"%d changed metric(s) come from scenarios whose load machine was CPU-bound (host CPU above the warning threshold) on at least one side: on a shared machine such changes can come from other work running at the same time",
			boundChanges))
	}
	if tolOnly {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf(
			"some metrics have fewer than %d repetitions on a side (run --count %d for a statistical test): they were judged by the tolerance alone, so noise can pass for a change",
			r.MinSamples, r.MinSamples))
	}
	return cmp, nil
}

func sides(base, cur bool) string {
	switch {
	case base && cur:
		return "both sides"
	case base:
		return "the baseline"
	}
	return "the current run"
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
