// How compare decides a regression: tolerances, the U test's level and
// the repetitions it needs.

package config

import "slices"

// Regression sets how compare decides a regression.
type Regression struct {
	TolerancePercent float64 `mapstructure:"tolerance_percent" json:"tolerance_percent"`
	// Metrics overrides the tolerance per metric (throughput, p50, p95, p99, error_rate, peak_rss).
	Metrics map[string]float64 `mapstructure:"metrics" json:"metrics"`
	// Scenarios overrides the tolerance per scenario name prefix.
	Scenarios map[string]float64 `mapstructure:"scenarios" json:"scenarios"`
	// Alpha is the significance level of the Mann-Whitney U test.
	Alpha float64 `mapstructure:"alpha" json:"alpha"`
	// MinSamples is the repetitions each side needs before the test is used.
	MinSamples int `mapstructure:"min_samples" json:"min_samples"`
}

// regressionMetrics are the metrics compare judges.
var regressionMetrics = []string{"throughput", "p50", "p95", "p99", "error_rate", "peak_rss"}

// RegressionMetrics lists the metrics compare judges.
func RegressionMetrics() []string { return slices.Clone(regressionMetrics) }

// MinUTestP is the smallest p-value the two-sided Mann-Whitney U test can
// give for n against n samples: 2 / C(2n, n), when the two sides do not
// overlap at all (0.33 for 2, 0.10 for 3, 0.029 for 4, 0.0079 for 5).
func MinUTestP(n int) float64 { return MinUTestPOf(n, n) }

// MinUTestPOf is MinUTestP for n1 against n2 samples: 2 / C(n1+n2, n1),
// at most 1.
func MinUTestPOf(n1, n2 int) float64 {
	c := 1.0 // C(n1+n2, n1), built up as a product to stay exact in float64
	for i := 1; i <= n1; i++ {
		c = c * float64(n2+i) / float64(i)
	}
	return min(1, 2/c)
}

// MinUTestSamples is the fewest repetitions per side with which the U test
// can find a change significant at alpha.
func MinUTestSamples(alpha float64) int {
	n := 2
	for MinUTestP(n) >= alpha && n < 64 {
		n++
	}
	return n
}
