// Package runner executes a plan: cluster sizes × repetitions × scenarios.
//
// What flows through it, in order:
//
//  1. New expands the configuration into scenarios.Specs (enabled
//     categories, optional name patterns) and checks the results directory
//     is writable before any minute is spent.
//  2. Run names the run's seed and the target's build (cluster.Versioner),
//     then, for each cluster size, starts clusters through the
//     cluster.Driver it was given (runCluster, which stops each one in a
//     deferred call). Normally one cluster per size runs every repetition
//     of every scenario, repetitions outermost so a burst of host noise hits
//     one repetition of many scenarios rather than every repetition of one.
//     In an interleaved A/B run (Options.Baseline) every repetition gets a
//     cluster of each side, in the order A B, B A, A B, ..., and the
//     results' clusters carry their side. A scenario that does not fit the
//     cluster (too few nodes, a missing fault ability) is recorded as
//     skipped with the reason.
//  3. Around each scenario (scenario.go): a timeout, a seed derived from the
//     run's, a resource sampler on the node processes, odbench itself and
//     the host, and afterwards the runner's own findings: host CPU, or on a
//     virtual machine CPU time taken by the hypervisor (steal), above its
//     warning threshold (the host, not the target, may be the bottleneck),
//     HTTP 429s (rate-limited, not throughput), requests cut off after the
//     window (unfinished). Then metrics.Judge sets the verdict: a failed
//     check of severity fail, requests failing above the error-rate target,
//     or every request failing, fails the scenario.
//  4. Between scenarios (recover.go): a node that died, or a cluster that
//     does not settle within cluster.settle_timeout (cluster.Healther: a
//     leader every member follows, every member caught up), has the
//     cluster started again with fresh data; the scenario that left it
//     unhealthy fails for it, with what was wrong, and the scenarios after
//     it run on a healthy cluster.
//  5. Progress goes to a Progress (the CLI draws a bar or log lines).
//  6. The metrics.Run is written atomically to the results directory, also
//     when the run was interrupted (status "interrupted") or a scenario
//     failed. Run returns an error wrapping ErrInterrupted,
//     cluster.ErrStart or ErrScenariosFailed so the CLI can pick its exit
//     code.
package runner
