// Package runner executes a plan: cluster sizes × repetitions × scenarios.
//
// What flows through it, in order:
//
//  1. Plan expands the configuration into scenarios.Specs (enabled
//     categories, optional name prefixes) and checks the results directory
//     is writable before any minute is spent.
//  2. For each cluster size the runner starts a cluster through the
//     cluster.Driver it was given, then runs every repetition of every
//     scenario against it (repetitions outermost, so slow drift of the
//     machine spreads over all scenarios alike), then stops the cluster.
//     A scenario that does not fit the cluster (too few nodes, a missing
//     fault ability) is recorded as skipped with the reason.
//  3. Around each scenario: a per-scenario timeout, a resource sampler on
//     the node processes, odbench itself and the host, and afterwards the
//     checks the runner makes on every result: host CPU, or on a virtual
//     machine CPU time taken by the hypervisor (steal), above its warning
//     threshold (the host, not the target, may be the bottleneck), HTTP
//     429s (rate-limited, not throughput), nothing measured at all.
//  4. Progress goes to a Progress (the CLI draws bars or log lines).
//  5. The metrics.Run is written atomically to the results directory, also
//     when the run was interrupted (status "interrupted") or a scenario
//     failed. Run returns an error wrapping ErrInterrupted,
//     cluster.ErrStart or ErrScenariosFailed so the CLI can pick its exit code.
package runner
