package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// mkRun builds a run whose scenario "api/x" at size 1 has one repetition
// per p50 value (ms), with throughput 1000/p50.
func mkRun(scenario string, p50ms []float64, errRate float64) *metrics.Run {
	run := &metrics.Run{SchemaVersion: 1}
	cl := metrics.Cluster{Size: 1}
	for i, p := range p50ms {
		ns := int64(p * 1e6)
		count := int64(1000)
		errs := int64(float64(count) * errRate / (1 - errRate))
		cl.Scenarios = append(cl.Scenarios, metrics.Scenario{Name: scenario, Category: "api", Repetition: i + 1, Status: metrics.StatusOK,
			Operations: []metrics.Operation{{Name: "get", Count: count, Errors: errs, ThroughputOpsPerSec: 1000 / p,
				Latency: metrics.LatencySummary{P50Ns: ns, P95Ns: ns * 2, P99Ns: ns * 3}}}})
	}
	run.Clusters = []metrics.Cluster{cl}
	return run
}

func regression() config.Regression {
	return config.Default().Regression
}

func verdict(t *testing.T, cmp *Comparison, metric string) Row {
	t.Helper()
	for _, r := range cmp.Rows {
		if r.Metric == metric {
			return r
		}
	}
	t.Fatalf("no %s row in %+v", metric, cmp.Rows)
	return Row{}
}

func TestCompareVerdicts(t *testing.T) {
	t.Parallel()
	steady := []float64{10, 10.1, 9.9, 10.05, 9.95}
	tests := []struct {
		name     string
		base     []float64
		cur      []float64
		metric   string
		want     string
		method   string
		tweakReg func(*config.Regression)
		opt      Options
	}{
		{"clear slowdown", steady, []float64{13, 13.1, 12.9, 13.05, 12.95}, "p50", Regression, MethodUTest, nil, Options{}},
		{"clear speed-up", steady, []float64{7, 7.1, 6.9, 7.05, 6.95}, "p50", Improvement, MethodUTest, nil, Options{}},
		{"throughput drop is a regression", steady, []float64{13, 13.1, 12.9, 13.05, 12.95}, "throughput", Regression, MethodUTest, nil, Options{}},
		{"significant but below tolerance", steady, []float64{10.3, 10.4, 10.2, 10.35, 10.25}, "p50", NoChange, MethodUTest, nil, Options{}},
		{"large but noisy", []float64{10, 20, 5, 15, 8}, []float64{14, 7, 25, 9, 16}, "p50", WithinNoise, MethodUTest, nil, Options{}},
		{"beyond noise, not significant", []float64{10, 10.2, 9.8, 10.1, 9.9}, []float64{10, 13, 13.2, 9.9, 13.1}, "p50", Insignificant, MethodUTest, nil, Options{}},
		{"one repetition: unconfirmed", []float64{10}, []float64{12}, "p50", Unconfirmed, MethodTolerance, nil, Options{}},
		{"one repetition, gated on tolerance", []float64{10}, []float64{12}, "p50", Regression, MethodTolerance, nil, Options{GateOnTolerance: true}},
		{"one repetition within tolerance", []float64{10}, []float64{10.5}, "p50", NoChange, MethodTolerance, nil, Options{}},
		{"per-scenario tolerance", steady, []float64{13, 13.1, 12.9, 13.05, 12.95}, "p50", NoChange, MethodUTest,
			func(r *config.Regression) { r.Scenarios = map[string]float64{"api/": 50} }, Options{}},
		{"per-metric tolerance", steady, []float64{13, 13.1, 12.9, 13.05, 12.95}, "p50", NoChange, MethodUTest,
			func(r *config.Regression) { r.Metrics = map[string]float64{"p50": 40} }, Options{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := regression()
			if tt.tweakReg != nil {
				tt.tweakReg(&r)
			}
			cmp, err := Compare(mkRun("api/x", tt.base, 0), mkRun("api/x", tt.cur, 0), r, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			row := verdict(t, cmp, tt.metric)
			if row.Verdict != tt.want || row.Method != tt.method {
				t.Errorf("%s: verdict %q by %q (delta %.1f%%, p %v), want %q by %q", tt.metric, row.Verdict, row.Method, row.DeltaPct, row.P, tt.want, tt.method)
			}
			if row.Verdict == Unconfirmed && !strings.Contains(strings.Join(cmp.Notes, " "), "--count 5") {
				t.Errorf("notes %q: an unconfirmed change must say how to get a verdict", cmp.Notes)
			}
		})
	}
}

func TestCompareFlagsHostBound(t *testing.T) {
	t.Parallel()
	cur := mkRun("api/x", []float64{13, 13.1, 12.9, 13.05, 12.95}, 0)
	for i := range cur.Clusters[0].Scenarios {
		cur.Clusters[0].Scenarios[i].HostBound = true
	}
	cmp, err := Compare(mkRun("api/x", []float64{10, 10.1, 9.9, 10.05, 9.95}, 0), cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := verdict(t, cmp, "p50")
	if row.Verdict != Regression || !strings.Contains(row.Note, "host-bound on the current run") || len(cmp.Notes) == 0 {
		t.Errorf("row %+v, notes %q: want the regression kept and flagged host-bound", row, cmp.Notes)
	}
}

func TestCompareErrorRateInPoints(t *testing.T) {
	t.Parallel()
	five := []float64{10, 10, 10, 10, 10}
	base := mkRun("api/x", five, 0)
	cur := mkRun("api/x", five, 0.05) // 5% errors
	cmp, err := Compare(base, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := verdict(t, cmp, "error_rate")
	if row.Verdict != Regression || row.DeltaPct < 4.9 || row.DeltaPct > 5.1 {
		t.Errorf("error rate 0 -> 5%%: %+v, want a regression of 5 points", row)
	}
}

func TestCompareMatching(t *testing.T) {
	t.Parallel()
	_, err := Compare(mkRun("api/x", []float64{10}, 0), mkRun("api/y", []float64{10}, 0), regression(), Options{})
	if !errors.Is(err, ErrNothingInCommon) {
		t.Fatalf("err = %v, want ErrNothingInCommon", err)
	}
	base := mkRun("api/x", []float64{10}, 0)
	cur := mkRun("api/x", []float64{10}, 0)
	cur.Clusters[0].Scenarios = append(cur.Clusters[0].Scenarios, mkRun("api/new", []float64{1}, 0).Clusters[0].Scenarios...)
	cmp, err := Compare(base, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.OnlyCurrent) != 1 || !strings.Contains(cmp.OnlyCurrent[0], "api/new") {
		t.Errorf("only in current = %v", cmp.OnlyCurrent)
	}
}

func TestCompareOutputs(t *testing.T) {
	t.Parallel()
	cmp, err := Compare(mkRun("api/x", []float64{10, 10, 10, 10}, 0), mkRun("api/x", []float64{20, 20.1, 20.2, 20.3}, 0), regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	cmp.Baseline, cmp.Current = "a.json", "b.json"
	var text, md, js, junit bytes.Buffer
	if err := cmp.WriteText(&text, false, 0); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "REGRESSION") || !strings.Contains(text.String(), "+101.5%") {
		t.Errorf("text:\n%s", text.String())
	}
	if err := cmp.WriteMarkdown(&md, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "**") || !strings.Contains(md.String(), "| scenario |") {
		t.Errorf("markdown:\n%s", md.String())
	}
	if err := cmp.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"verdict": "regression"`) {
		t.Errorf("json:\n%s", js.String())
	}
	if err := cmp.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &suite); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, junit.String())
	}
	if suite.Tests != len(cmp.Rows) || suite.Failures != len(cmp.Regressions()) || suite.Failures == 0 {
		t.Errorf("junit tests %d failures %d; rows %d regressions %d", suite.Tests, suite.Failures, len(cmp.Rows), len(cmp.Regressions()))
	}
}

// failing marks the repetitions of the scenario in run whose index is in
// failed as failed.
func failing(run *metrics.Run, failed ...int) *metrics.Run {
	for _, i := range failed {
		s := &run.Clusters[0].Scenarios[i]
		s.Status, s.Error = metrics.StatusFailed, "knows no leader"
	}
	return run
}

// Breakage is judged by counts: a scenario failing in every current
// repetition that passed in some baseline one broke; one failing in some
// broke only when Fisher's exact test says it fails more than chance.
func TestCompareBreakageByCounts(t *testing.T) {
	t.Parallel()
	five := []float64{10, 10, 10, 10, 10}
	ten := append(append([]float64(nil), five...), five...)
	alpha := func(a float64) config.Regression { r := regression(); r.Alpha = a; return r }
	tests := []struct {
		name      string
		base, cur *metrics.Run
		reg       config.Regression
		broke     bool
	}{
		{"ok in 4 of 5 before, failed in 5 of 5 now", failing(mkRun("api/x", five, 0), 2), failing(mkRun("api/x", five, 0), 0, 1, 2, 3, 4), alpha(0.01), true},
		{"one failure in ten now, none before", mkRun("api/x", ten, 0), failing(mkRun("api/x", ten, 0), 7), alpha(0.01), false},
		{"four failures in five now, none before, alpha 0.05", mkRun("api/x", five, 0), failing(mkRun("api/x", five, 0), 0, 1, 2, 3), alpha(0.05), true},
		{"four failures in five now, none before, alpha 0.01", mkRun("api/x", five, 0), failing(mkRun("api/x", five, 0), 0, 1, 2, 3), alpha(0.01), false},
		{"as often as before", failing(mkRun("api/x", five, 0), 1, 3), failing(mkRun("api/x", five, 0), 0, 4), alpha(0.05), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmp, err := Compare(tt.base, tt.cur, tt.reg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if broke := len(cmp.Broken) > 0; broke != tt.broke {
				t.Errorf("broken %+v (notes %q), want broken %v", cmp.Broken, cmp.Notes, tt.broke)
			}
			if !tt.broke && !strings.Contains(strings.Join(cmp.Notes, " "), "api/x") {
				t.Errorf("notes %q do not name the scenario that failed now and then", cmp.Notes)
			}
		})
	}
}

// TestCompareBreakage: a scenario ok in the baseline that fails now is a
// regression whatever its numbers, shown with the current error; one the
// current run did not run is a regression unless missing ones are allowed.
func TestCompareBreakage(t *testing.T) {
	t.Parallel()
	base := mkRun("api/x", []float64{10}, 0)
	base.Clusters[0].Scenarios = append(base.Clusters[0].Scenarios, mkRun("api/gone", []float64{10}, 0).Clusters[0].Scenarios...)
	cur := mkRun("api/x", []float64{10}, 0)
	cur.Clusters[0].Scenarios[0].Status = metrics.StatusFailed
	cur.Clusters[0].Scenarios[0].Error = "check minority_cannot_commit failed: a write succeeded"

	cmp, err := Compare(base, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Failures() != 2 || len(cmp.Broken) != 2 {
		t.Fatalf("failures %d, broken %+v: want the failed and the missing scenario", cmp.Failures(), cmp.Broken)
	}
	var text, junit bytes.Buffer
	if err := cmp.WriteText(&text, false, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"REGRESSION (now fails): 1 nodes api/x: ok in 1 of 1 repetitions in the baseline, failed in 1 of 1 repetitions, every one: check minority_cannot_commit failed",
		"REGRESSION (missing; --allow-missing accepts it): 1 nodes api/gone: ok in 1 of 1 repetitions in the baseline, not run in the current run"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := cmp.WriteJUnit(&junit); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(junit.String(), `failures="2"`) {
		t.Errorf("junit:\n%s", junit.String())
	}

	cmp, err = Compare(base, cur, regression(), Options{AllowMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Failures() != 1 {
		t.Errorf("with missing allowed: %d failures, want only the failed scenario", cmp.Failures())
	}
	// Failing on both sides is not a change of this build; it is noted.
	cmp, err = Compare(cur, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cmp.Failures() != 0 || !strings.Contains(strings.Join(cmp.Notes, " "), "failed on both sides") {
		t.Errorf("failures %d, notes %q", cmp.Failures(), cmp.Notes)
	}
}

// TestCompareFailedRepetitions: repetitions that failed give no values;
// when too few remain for the U test, the row says the tolerance judged.
func TestCompareFailedRepetitions(t *testing.T) {
	t.Parallel()
	steady := []float64{10, 10.1, 9.9, 10.05, 9.95}
	base, cur := mkRun("api/x", steady, 0), mkRun("api/x", []float64{13, 13.1, 12.9, 13.05, 12.95}, 0)
	base.Clusters[0].Scenarios[0].Status = metrics.StatusFailed // flaky baseline: 4 ok of 5
	for _, i := range []int{0, 1} {
		cur.Clusters[0].Scenarios[i].Status = metrics.StatusFailed
	}
	cmp, err := Compare(base, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := verdict(t, cmp, "p50")
	if row.N1 != 4 || row.N2 != 3 || row.Failed1 != 1 || row.Failed2 != 2 || row.Method != MethodTolerance ||
		!strings.Contains(row.Note, "judged by the tolerance") {
		t.Errorf("row %+v: want 4+3 values, 1 and 2 failed, judged by the tolerance with a note", row)
	}
	if !strings.Contains(strings.Join(cmp.Notes, " "), "failed repetitions left fewer than 4") {
		t.Errorf("notes %q", cmp.Notes)
	}
	if cells := row.cells(); cells[9] != "4+3 (1+2 failed)" {
		t.Errorf("n cell %q, want the failed repetitions shown", cells[9])
	}
}

// TestCompareNoiseFromTimeline: with one repetition a side, the spread of
// the per-second values is the noise; a change inside it is never called
// anything but within noise, one outside it is unconfirmed.
func TestCompareNoiseFromTimeline(t *testing.T) {
	t.Parallel()
	withSeconds := func(tput float64, perSecond ...int64) *metrics.Run {
		run := mkRun("api/x", []float64{1000 / tput}, 0)
		op := &run.Clusters[0].Scenarios[0].Operations[0]
		for i, n := range perSecond {
			op.Timeline = append(op.Timeline, metrics.Interval{EndOffsetMs: int64(1000 * (i + 1)), DurationMs: 1000, Count: n,
				P50Ns: op.Latency.P50Ns, P99Ns: op.Latency.P99Ns})
		}
		return run
	}
	for _, tc := range []struct {
		name    string
		seconds []int64
		want    string
	}{
		{"noisy seconds", []int64{100, 50, 150, 60, 140}, WithinNoise},
		{"steady seconds", []int64{100, 101, 99, 100, 100}, Unconfirmed},
	} {
		base := withSeconds(100, tc.seconds...)
		cur := withSeconds(80, tc.seconds...) // 20% fewer ops/s
		cmp, err := Compare(base, cur, regression(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		row := verdict(t, cmp, "throughput")
		if row.Verdict != tc.want || row.Noise == nil || row.NoiseFrom != NoiseFromSeconds {
			t.Errorf("%s: verdict %q, noise %v from %q; want %q from the per-second values", tc.name, row.Verdict, row.Noise, row.NoiseFrom, tc.want)
		}
	}
}

// TestCompareNamesBuildsAndWarns: the header names both sides' builds,
// and different hosts, core counts or measuring settings are warned of;
// a different seed or repetition count is not.
func TestCompareNamesBuildsAndWarns(t *testing.T) {
	t.Parallel()
	cfgA, cfgB := config.Default(), config.Default()
	cfgB.Execution.Seed, cfgB.Execution.Count = 99, 5
	base, cur := mkRun("api/x", []float64{10}, 0), mkRun("api/x", []float64{10}, 0)
	base.Tool = metrics.Tool{Name: "odbench", Version: "v1", Commit: "0123456789abcdef"}
	cur.Tool = metrics.Tool{Name: "odbench", Version: "v2", Commit: "fedcba9876543210", Modified: true}
	base.Target = metrics.Target{Driver: "local", Version: "odbench v1"}
	cur.Target = metrics.Target{Driver: "external", VersionReason: "GET /api/v1/version answered 404"}
	base.Host, cur.Host = metrics.Host{Hostname: "a", Cores: 2}, metrics.Host{Hostname: "a", Cores: 2}
	base.Config, cur.Config = cfgA, cfgB
	cmp, err := Compare(base, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmp.Warnings) != 0 {
		t.Errorf("warnings %q: a seed or a count is not a different setting", cmp.Warnings)
	}
	if want := "odbench v1 (0123456789ab) on a (2 cores); target local, odbench v1"; cmp.BaselineBuild != want {
		t.Errorf("baseline build %q, want %q", cmp.BaselineBuild, want)
	}
	if !strings.Contains(cmp.CurrentBuild, "with uncommitted changes") || !strings.Contains(cmp.CurrentBuild, "build unknown: GET /api/v1/version answered 404") {
		t.Errorf("current build %q", cmp.CurrentBuild)
	}
	cur.Host = metrics.Host{Hostname: "b", Cores: 4}
	cfgB.Execution.Duration = 3 * cfgA.Execution.Duration
	cur.Config = cfgB
	cmp, err = Compare(base, cur, regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(cmp.Warnings, "\n")
	for _, want := range []string{"different hosts (a and b)", "different core counts (2 and 4)", "execution.duration (10s vs 30s)"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
}

// many builds a run of n repetitions of scenarios api/s00..api/sNN, each
// with p50 values around base ms (a little spread), shifted by shift(i)
// percent for scenario i.
func many(scenarios, n int, base float64, shift func(i int) float64) *metrics.Run {
	run := &metrics.Run{SchemaVersion: 1}
	cl := metrics.Cluster{Size: 3}
	for i := 0; i < scenarios; i++ {
		for rep := 0; rep < n; rep++ {
			p := base * (1 + shift(i)/100) * (1 + 0.002*float64(rep%5-2))
			ns := int64(p * 1e6)
			cl.Scenarios = append(cl.Scenarios, metrics.Scenario{Name: fmt.Sprintf("api/s%02d", i), Category: "api", Repetition: rep + 1,
				Status: metrics.StatusOK, Operations: []metrics.Operation{{Name: "get", Count: 1000, ThroughputOpsPerSec: 1000,
					Latency: metrics.LatencySummary{P50Ns: ns, P95Ns: ns, P99Ns: ns}}}})
		}
	}
	run.Clusters = []metrics.Cluster{cl}
	return run
}

// The U test's p-values are adjusted over every row it judged: one row of
// a hundred beating every baseline repetition in five is what chance gives
// a same-build pair; the same change in ten repetitions of many rows is a
// regression.
func TestCompareAdjustsForManyRows(t *testing.T) {
	t.Parallel()
	r := regression()
	r.Alpha, r.MinSamples = 0.01, 5
	none := func(int) float64 { return 0 }
	one := func(i int) float64 {
		if i == 7 {
			return 25
		}
		return 0
	}
	cmp, err := Compare(many(25, 5, 1, none), many(25, 5, 1, one), r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	row := verdict(t, cmp, "p50")
	for _, x := range cmp.Rows {
		if x.Scenario == "api/s07" && x.Metric == "p50" {
			row = x
		}
	}
	if row.Verdict != Insignificant || row.P == nil || *row.P >= 0.01 || row.PAdjusted == nil || *row.PAdjusted < 0.01 {
		t.Errorf("row %+v: want a raw p below 0.01 adjusted above it: not significant", row)
	}
	if cmp.Failures() != 0 {
		t.Errorf("%d failures, want none", cmp.Failures())
	}
	if notes := strings.Join(cmp.Notes, " "); !strings.Contains(notes, "with 5+5 repetitions no row can score below p 0.00794") ||
		!strings.Contains(notes, "with --count ") {
		t.Errorf("notes %q: want why the row is not significant, and how many repetitions would do", notes)
	}
	all := func(int) float64 { return 15 }
	cmp, err = Compare(many(25, 10, 1, none), many(25, 10, 1, all), r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cmp.Regressions()); got != 75 {
		t.Errorf("%d regressions, want every p50, p95 and p99 of 25 scenarios", got)
	}
	if notes := strings.Join(cmp.Notes, " "); strings.Contains(notes, "no row can score") {
		t.Errorf("notes %q: every change was found, none is starved of repetitions", notes)
	}
}

// A capacity search that finds less capacity than the baseline's is a
// regression of its capacity row.
func TestCompareCapacity(t *testing.T) {
	t.Parallel()
	withCapacity := func(caps ...float64) *metrics.Run {
		run := mkRun("inference/capacity", []float64{10, 10, 10, 10, 10}, 0)
		for i, c := range caps {
			run.Clusters[0].Scenarios[i].Sweep = &metrics.Sweep{Kind: "capacity", Capacity: metrics.Float(c)}
		}
		return run
	}
	cmp, err := Compare(withCapacity(60, 61, 59, 60.5, 59.5), withCapacity(40, 41, 39, 40.5, 39.5), regression(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if row := verdict(t, cmp, "capacity"); row.Verdict != Regression {
		t.Errorf("capacity 60 → 40 req/s: %s (delta %.1f%%)", row.Verdict, row.DeltaPct)
	}
}
