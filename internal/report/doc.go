// Package report turns results files into decisions and documents. It
// reads metrics types and runs nothing.
//
// What flows through it, in order:
//
//  1. Compare first finds breakage (breakage.go): a scenario ok in the
//     baseline that failed now, or one measured there and missing now.
//     Then it matches two runs by (cluster size, scenario, operation) and,
//     for each metric (throughput, p50, p95, p99, error rate, peak RSS),
//     gathers one value per repetition on each side and estimates the
//     metric's noise (noise.go: the spread of the repetitions, else of the
//     per-second values). A change within the tolerance is no change; one
//     within the noise is never a regression; beyond both, with at least
//     regression.min_samples repetitions on both sides, the Mann-Whitney U
//     test (golang.org/x/perf/benchmath, as benchstat does) at
//     regression.alpha decides; with fewer the change is unconfirmed and
//     fails no gate unless Options.GateOnTolerance. The header names both
//     sides' builds and warns when hosts or settings differ (provenance.go).
//  2. The Comparison renders as a terminal table, markdown (for
//     $GITHUB_STEP_SUMMARY), JSON, or JUnit XML (one test case per
//     comparison) for CI systems.
//  3. Build turns one run into a Report: system information, key
//     findings, a table per category, scalability across cluster sizes,
//     resource utilization, every check with its severity, the configured
//     targets (targets.go: pass, fail, or not measured with the reason), an
//     optional regression analysis (an A/B run's is against its own
//     baseline side), and recommendations. Every recommendation comes
//     from an explicit rule over the data and cites the number that
//     triggered it; a rule that does not fire writes nothing.
//  4. Charts draws the report's figures as SVG with gonum.org/v1/plot; the
//     renderers write text, markdown (with the SVGs beside it), one
//     self-contained HTML file (SVG inline), JSON, or Go benchmark format
//     lines that benchstat reads.
package report
