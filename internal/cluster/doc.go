// Package cluster starts, describes and stops the clusters odbench
// benchmarks, and exposes what each can do to them.
//
// What flows through it, in order:
//
//  1. The runner picks a Driver (local, exec, external) and calls
//     Start(ctx, n) once per cluster to run. Each driver decides what
//     "ready" means: the local driver waits until every reference node sees
//     one leader, n Raft voters and n alive gossip members; the exec driver
//     until each node answers its health URL (or prints its ready pattern);
//     the external driver until each node answers GET /api/v1/health. For
//     exec and external, the conditions of cluster.ready (ready.go) must
//     then hold on every node's answers; when they do not within the start
//     timeout, Start returns the running cluster with an error wrapping
//     ErrNotFormed, so the runner can skip or measure it as unformed.
//     While it runs, the process drivers record nodes that exit unasked
//     (Deaths, DeathNotice) and the external driver answers Probe.
//  2. Scenarios read Nodes() (ID, API URL, PID) and talk to the nodes over
//     HTTP themselves. Fault scenarios look for abilities by type assertion
//     (Killer, Restarter, Pauser, Partitioner, Shaper): a cluster that
//     cannot do a thing simply does not implement it, and the scenario is
//     skipped with that reason. Versioner names the nodes' build for the results.
//  3. The runner calls Stop, which leaves no process and no temp dir
//     behind. Stop is safe to call twice.
//
// One file per concern:
//
//   - cluster.go: the interfaces, abilities and sentinel errors.
//   - proc.go: the supervisor both process drivers use: start a node in its
//     own process group with the parent-death signal, log its output, keep
//     the tail of its stderr, signal (kill, pause, resume) and stop it, and
//     remove temp dirs a killed run left behind.
//   - deaths.go: the record of a node that exited unasked (its exit state,
//     first fatal log line and stderr tail), which the runner reads.
//   - ready.go: cluster.ready, the conditions on the nodes' answers that
//     say an exec or external cluster has formed.
//   - local.go: the local driver (odbench's own `odbench node`), waiting for
//     convergence, restarting a node with its ports, partitioning through
//     the nodes' fault filters.
//   - exec.go: the exec driver (any node binary from templated argv, free
//     ports, captured values, an optional config file).
//   - external.go: the external driver (an already running cluster).
//   - poll.go: pollUntil, the one readiness loop every driver waits with.
//   - version.go: Versioner for each driver.
package cluster
