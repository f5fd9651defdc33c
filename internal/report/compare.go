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

// ErrNothingInCommon: the two runs share no (cluster size, scenario);
// there is nothing to compare.
var ErrNothingInCommon = errors.New("the two results files have no scenario in common")

// Verdicts of one metric's comparison.
const (
	Regression  = "regression"
	Improvement = "improvement"
	// NoChange: within the tolerance.
	NoChange = "no change"
	// WithinNoise: beyond the tolerance but no larger than the metric's
	// noise (see noise.go): never a regression.
	WithinNoise = "within noise"
	// Insignificant: beyond tolerance and noise, but the U test did not
	// find it significant.
	Insignificant = "not significant"
	// Unconfirmed: beyond tolerance and noise with too few repetitions for
	// the U test: not evidence enough to fail a gate (unless
	// --gate-on-tolerance); Row.Worse says which way it went.
	Unconfirmed = "unconfirmed"
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

// judged are the metrics Compare judges, in output order.
var judged = []Metric{
	{Name: "throughput", Unit: "ops/s", HigherIsBetter: true},
	{Name: "p50", Unit: "ms"},
	{Name: "p95", Unit: "ms"},
	{Name: "p99", Unit: "ms"},
	{Name: "error_rate", Unit: "%", Absolute: true},
	{Name: "peak_rss", Unit: "MiB"},
	{Name: "capacity", Unit: "req/s", HigherIsBetter: true},
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
	// Noise is the change the metric shows between runs of one build (see
	// noise.go), in percent (points for error rate); nil when it could not
	// be estimated. NoiseFrom says from what.
	Noise     *float64 `json:"noise,omitempty"`
	NoiseFrom string   `json:"noise_from,omitempty"`
	// Worse says the change went the bad way (slower, fewer, more errors).
	Worse bool `json:"worse,omitempty"`
	// P is the U test's p-value; nil when the tolerance alone judged.
	P *float64 `json:"p,omitempty"`
	// PAdjusted is P adjusted for the false discovery rate over every row
	// of the comparison that had a U test (Benjamini-Hochberg); the
	// verdict compares it, not P, with the regression alpha.
	PAdjusted *float64 `json:"p_adjusted,omitempty"`
	N1        int      `json:"n_baseline"`
	N2        int      `json:"n_current"`
	// Failed1 and Failed2 count the repetitions on each side that failed
	// and so gave no value; N1 and N2 count those that did.
	Failed1 int    `json:"failed_baseline,omitempty"`
	Failed2 int    `json:"failed_current,omitempty"`
	Method  string `json:"method"`
	Verdict string `json:"verdict"`
	Note    string `json:"note,omitempty"`
}

// Options change how Compare judges.
type Options struct {
	// AllowMissing lists scenarios missing from the current run without
	// calling them regressions (a run of fewer categories, say).
	AllowMissing bool
	// GateOnTolerance calls a change judged by the tolerance alone (too
	// few repetitions for the U test) a regression when it goes the bad
	// way, instead of unconfirmed.
	GateOnTolerance bool
}

// Comparison is the whole outcome.
type Comparison struct {
	Baseline, Current string // file names, for the output
	// BaselineBuild and CurrentBuild name what measured each side and what
	// it measured (odbench build, host, target build).
	BaselineBuild string `json:"baseline_build"`
	CurrentBuild  string `json:"current_build"`
	// Settings says which regression settings judged, and from where.
	Settings string `json:"settings,omitempty"`
	// Warnings say what makes the two runs less comparable than they look.
	Warnings     []string   `json:"warnings,omitempty"`
	Rows         []Row      `json:"rows"`
	Broken       []Breakage `json:"broken,omitempty"`
	OnlyBaseline []string   `json:"only_in_baseline,omitempty"`
	OnlyCurrent  []string   `json:"only_in_current,omitempty"`
	Notes        []string   `json:"notes,omitempty"`
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

// Failures counts what makes compare exit 1: metric regressions and
// broken scenarios (missing ones unless allowed).
func (c *Comparison) Failures() int {
	n := len(c.Regressions())
	for _, b := range c.Broken {
		if b.Regression {
			n++
		}
	}
	return n
}

// samples gathers values per key and metric: one per repetition
// (collect), or one per second of every repetition (collectSeries).
type samples map[Key]map[string][]float64

func (s samples) add(k Key, m string, v float64) {
	if s[k] == nil {
		s[k] = map[string][]float64{}
	}
	s[k][m] = append(s[k][m], v)
}

// eachOK calls fn for every scenario of run that ran to completion, with
// its cluster size: the only ones whose figures compare.
func eachOK(run *metrics.Run, fn func(size int, s *metrics.Scenario)) {
	for _, c := range run.Clusters {
		for i := range c.Scenarios {
			if c.Scenarios[i].Status == metrics.StatusOK {
				fn(c.Size, &c.Scenarios[i])
			}
		}
	}
}

func sortKeys(keys []Key) {
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
}

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
	eachOK(run, func(size int, s *metrics.Scenario) {
		for _, op := range s.Operations {
			k := Key{Size: size, Scenario: s.Name, Operation: op.Name}
			out.add(k, "throughput", op.ThroughputOpsPerSec)
			if op.Count > 0 {
				out.add(k, "p50", float64(op.Latency.P50Ns)/1e6)
				out.add(k, "p95", float64(op.Latency.P95Ns)/1e6)
				out.add(k, "p99", float64(op.Latency.P99Ns)/1e6)
			}
			out.add(k, "error_rate", 100*op.ErrorRate())
		}
		if sw := s.Sweep; sw != nil && sw.Capacity != nil {
			out.add(Key{Size: size, Scenario: s.Name}, "capacity", *sw.Capacity)
		}
		if s.Resources != nil {
			var peak uint64
			for _, n := range s.Resources.Nodes {
				if n.ID != "odbench" {
					peak = max(peak, n.RSSBytesMax)
				}
			}
			if peak > 0 {
				out.add(Key{Size: size, Scenario: s.Name}, "peak_rss", float64(peak)/(1<<20))
			}
		}
	})
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

// Compare judges current against baseline with the regression settings:
// scenarios that broke, then every metric of the operations both sides
// measured.
func Compare(baseline, current *metrics.Run, r config.Regression, opt Options) (*Comparison, error) {
	base, cur := collect(baseline), collect(current)
	baseSec, curSec := collectSeries(baseline), collectSeries(current)
	baseOut, curOut := outcomes(baseline), outcomes(current)
	cmp := &Comparison{BaselineBuild: buildLine(baseline), CurrentBuild: buildLine(current),
		Warnings: provenanceWarnings(baseline, current)}
	cmp.Broken, cmp.Notes = broken(baseOut, curOut, r.Alpha, opt)
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
	common := false
	for k := range baseOut {
		common = common || curOut[k] != nil
	}
	if !common {
		return cmp, ErrNothingInCommon // most likely the wrong files
	}
	sortKeys(keys)
	thresholds := benchmath.DefaultThresholds
	thresholds.CompareAlpha = r.Alpha
	unconfirmed, gated := 0, 0
	var sizes []float64  // each row's change, against its tolerance and noise
	var thinned []string // keys left with too few repetitions by failures
	baseBound, curBound := hostBoundKeys(baseline), hostBoundKeys(current)
	boundChanges := 0
	for _, k := range keys {
		for _, m := range judged {
			b, c := base[k][m.Name], cur[k][m.Name]
			if len(b) == 0 || len(c) == 0 {
				continue
			}
			sk := Key{Size: k.Size, Scenario: k.Scenario}
			row := Row{Key: k, Metric: m.Name, Unit: m.Unit, Baseline: median(b), Current: median(c), N1: len(b), N2: len(c),
				Failed1: baseOut[sk].failed, Failed2: curOut[sk].failed, Tolerance: tolerance(r, m, k.Scenario)}
			var size float64 // the change's size, against the tolerance and the noise
			if m.Absolute {
				row.DeltaPct = row.Current - row.Baseline
				size = math.Abs(row.DeltaPct)
				row.Worse = row.DeltaPct > 0
			} else {
				if row.Baseline == 0 {
					row.Method, row.Verdict = MethodTolerance, NoChange
					row.Note = "baseline is 0: no relative change"
					sizes = append(sizes, 0)
					cmp.Rows = append(cmp.Rows, row)
					continue
				}
				row.DeltaPct = 100 * (row.Current - row.Baseline) / row.Baseline
				size = math.Abs(row.DeltaPct)
				row.Worse = (row.DeltaPct < 0) == m.HigherIsBetter && row.DeltaPct != 0
			}
			nb, fromB, okB := sideNoise(b, baseSec[k][m.Name], m.Absolute)
			nc, fromC, okC := sideNoise(c, curSec[k][m.Name], m.Absolute)
			if okB || okC {
				n := math.Sqrt(nb*nb + nc*nc)
				row.Noise = &n
				row.NoiseFrom = fromB
				if fromB != fromC && okB && okC {
					row.NoiseFrom = fromB + " and " + fromC
				} else if !okB {
					row.NoiseFrom = fromC
				}
			}
			if len(b) >= r.MinSamples && len(c) >= r.MinSamples {
				res := benchmath.AssumeNothing.Compare(benchmath.NewSample(b, &thresholds), benchmath.NewSample(c, &thresholds))
				p := res.P
				row.P, row.Method = &p, MethodUTest
				for _, w := range res.Warnings {
					row.Note = w.Error()
				}
			} else {
				row.Method = MethodTolerance
				if (row.Failed1 > 0 && len(b)+row.Failed1 >= r.MinSamples) || (row.Failed2 > 0 && len(c)+row.Failed2 >= r.MinSamples) {
					row.Note = fmt.Sprintf("failed repetitions left %d+%d, fewer than %d: judged by the tolerance, not the U test", len(b), len(c), r.MinSamples)
					if m.Name == judged[0].Name {
						thinned = append(thinned, k.String())
					}
				}
			}
			sizes = append(sizes, size)
			cmp.Rows = append(cmp.Rows, row)
		}
	}
	// The U test's p-values are adjusted over the whole family of rows it
	// judged: at alpha 0.01 each, one of some seventy rows of two runs of
	// one build would read as a change by chance alone.
	var family []int
	var ps []float64
	for i, row := range cmp.Rows {
		if row.P != nil {
			family = append(family, i)
			ps = append(ps, *row.P)
		}
	}
	for j, adj := range benjaminiHochberg(ps) {
		a := adj
		cmp.Rows[family[j]].PAdjusted = &a
	}
	for i := range cmp.Rows {
		row := &cmp.Rows[i]
		if row.Verdict != "" {
			continue // judged above (a baseline of 0)
		}
		size := sizes[i]
		switch {
		case size <= row.Tolerance:
			row.Verdict = NoChange
		case row.Noise != nil && size <= *row.Noise:
			row.Verdict = WithinNoise
		case row.P == nil && opt.GateOnTolerance:
			row.Verdict = map[bool]string{true: Regression, false: Improvement}[row.Worse]
			gated++
		case row.P == nil:
			row.Verdict = Unconfirmed
			unconfirmed++
		case *row.PAdjusted >= r.Alpha:
			row.Verdict = Insignificant
		case row.Worse:
			row.Verdict = Regression
		default:
			row.Verdict = Improvement
		}
		sk := Key{Size: row.Size, Scenario: row.Scenario}
		if (baseBound[sk] || curBound[sk]) && row.Verdict != NoChange {
			row.Note = strings.TrimSpace(row.Note + " host-bound on " + sides(baseBound[sk], curBound[sk]) + ": may measure the machine, not the build")
			boundChanges++
		}
	}
	if len(family) > 0 {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf(
			"the U test judged %d rows; their p-values are adjusted for the false discovery rate over those rows (Benjamini-Hochberg) and compared with alpha %g: "+
				"p is each row's own, p adj. the adjusted one", len(family), r.Alpha))
	}
	if n := starved(cmp.Rows, r.Alpha); n != "" {
		cmp.Notes = append(cmp.Notes, n)
	}
	if boundChanges > 0 {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf(
			"%d changed metric(s) come from scenarios whose load machine was CPU-bound (host CPU above the warning threshold) on at least one side: on a shared machine such changes can come from other work running at the same time",
			boundChanges))
	}
	if len(thinned) > 0 {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf("failed repetitions left fewer than %d on a side, so the tolerance judged instead of the U test: %s",
			r.MinSamples, strings.Join(thinned, "; ")))
	}
	if unconfirmed > 0 {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf(
			"%d change(s) are unconfirmed: with fewer than %d repetitions on a side only the tolerance judged them, which noise can pass; "+
				"they do not fail the gate. For a verdict run both sides with --count %d (or --profile ci), or compare an interleaved run --ab; "+
				"--gate-on-tolerance fails on them anyway",
			unconfirmed, r.MinSamples, max(r.MinSamples, 5)))
	}
	if gated > 0 {
		cmp.Notes = append(cmp.Notes, fmt.Sprintf("%d change(s) were judged by the tolerance alone (--gate-on-tolerance): noise can pass for a change", gated))
	}
	return cmp, nil
}

// starved says why rows significant on their own are not once adjusted,
// when the repetitions leave the U test too little room: its smallest
// possible p is 2/C(n1+n2, n1), and when that, adjusted over the family,
// is not below alpha, a change passes only when many rows show it. ""
// when no row is so (a row that more repetitions would not help is a
// chance finding the adjustment is there to discount).
func starved(rows []Row, alpha float64) string {
	family := 0
	for _, row := range rows {
		if row.P != nil {
			family++
		}
	}
	held, n1, n2 := 0, 0, 0
	for _, row := range rows {
		if row.P == nil || row.Verdict != Insignificant || *row.P >= alpha ||
			config.MinUTestPOf(row.N1, row.N2)*float64(family) < alpha {
			continue
		}
		held++
		if held == 1 || row.N1+row.N2 < n1+n2 {
			n1, n2 = row.N1, row.N2
		}
	}
	if held == 0 {
		return ""
	}
	out := fmt.Sprintf("%d row(s) have p below alpha %g on their own but not once adjusted over the %d rows judged: "+
		"with %d+%d repetitions no row can score below p %.3g", held, alpha, family, n1, n2, config.MinUTestPOf(n1, n2))
	if c := repetitionsFor(family, alpha); c > 0 {
		out += fmt.Sprintf("; with --count %d on both sides one clear row is enough", c)
	}
	return out
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
