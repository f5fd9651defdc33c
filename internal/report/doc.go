// Package report turns results files into decisions and documents. It
// reads metrics types and runs nothing.
//
// What flows through it, in order:
//
//  1. Compare matches two runs by (cluster size, scenario, operation) and,
//     for each metric (throughput, p50, p95, p99, error rate, peak RSS),
//     gathers one value per repetition on each side. With at least
//     regression.min_samples repetitions on both sides it runs the
//     Mann-Whitney U test (golang.org/x/perf/benchmath, as benchstat does)
//     at regression.alpha and calls a change a regression only when it is
//     both significant and larger than the tolerance; with fewer it judges
//     by the tolerance alone and says so.
//  2. The Comparison renders as a terminal table, markdown (for
//     $GITHUB_STEP_SUMMARY), JSON, or JUnit XML (one test case per
//     comparison) for CI systems.
//  3. Build turns one run into a Report: system information, key
//     findings, a table per category, scalability across cluster sizes,
//     resource utilization, the configured targets (pass, fail, or not
//     measured with the reason), an optional regression analysis, and
//     recommendations. Every recommendation comes from an explicit rule
//     over the data and cites the number that triggered it; a rule that
//     does not fire writes nothing.
//  4. Charts draws the report's figures as SVG with gonum.org/v1/plot; the
//     renderers write text, markdown (with the SVGs beside it), one
//     self-contained HTML file (SVG inline), JSON, or Go benchmark format
//     lines that benchstat reads.
package report
