package report

import (
	"math"
	"sort"

	"github.com/odbench/odbench/internal/config"
)

// fisherMoreFailures is the one-sided p-value of Fisher's exact test that
// the current side fails more often than the baseline: with failedB of
// runsB baseline repetitions and failedC of runsC current ones failing,
// the chance that, the failures being spread at random over all the
// repetitions, the current side gets failedC of them or more. The count
// of failures overall is held fixed: it is the hypergeometric tail
// P(X >= failedC), X drawing runsC repetitions from runsB+runsC holding
// failedB+failedC failures.
func fisherMoreFailures(failedB, runsB, failedC, runsC int) float64 {
	n := runsB + runsC
	k := failedB + failedC
	if runsB < 1 || runsC < 1 || k == 0 {
		return 1
	}
	var p float64
	for x := failedC; x <= min(k, runsC); x++ {
		p += math.Exp(lnChoose(k, x) + lnChoose(n-k, runsC-x) - lnChoose(n, runsC))
	}
	return min(p, 1)
}

// lnChoose is ln(n choose k).
func lnChoose(n, k int) float64 {
	if k < 0 || k > n {
		return math.Inf(-1)
	}
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// benjaminiHochberg adjusts p-values for the false discovery rate across a
// family of tests (Benjamini and Hochberg, 1995): the i-th smallest of m
// becomes min over j >= i of p_(j)·m/j, at most 1. Comparing the adjusted
// values with alpha keeps the expected share of false discoveries among
// the rows called changed at alpha, and, when nothing changed at all, the
// chance of any false alarm too.
func benjaminiHochberg(p []float64) []float64 {
	m := len(p)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	// Largest p first, so the running minimum walks down the ranks.
	sort.SliceStable(order, func(a, b int) bool { return p[order[a]] > p[order[b]] })
	adj := make([]float64, m)
	running := 1.0
	for r, idx := range order {
		rank := m - r // the rank of this p among all, smallest = 1
		running = min(running, p[idx]*float64(m)/float64(rank))
		adj[idx] = running
	}
	return adj
}

// repetitionsFor is the fewest repetitions a side whose smallest U test
// p, adjusted over a family of m rows, is still below alpha: enough for a
// single row that separates completely; 0 if more than 50 would be.
func repetitionsFor(m int, alpha float64) int {
	for c := 2; c <= 50; c++ {
		if config.MinUTestP(c)*float64(m) < alpha {
			return c
		}
	}
	return 0
}
