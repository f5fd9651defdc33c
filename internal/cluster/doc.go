// Package cluster starts, describes and stops the clusters odbench
// benchmarks, and exposes what each can do to them.
//
// What flows through it, in order:
//
//  1. The runner picks a Driver by name (local, exec, external) and calls
//     Start(ctx, n) once per cluster size. A driver returns a Cluster whose
//     nodes are ready: their API answers, a leader exists.
//  2. Scenarios read Nodes() (ID, API URL, PID) and talk to the nodes over
//     HTTP themselves. Fault scenarios look for abilities by type assertion
//     (Killer, Restarter, Pauser, Partitioner): a cluster that cannot do a
//     thing simply does not implement it, and the scenario is skipped with
//     that reason.
//  3. The runner calls Stop, which leaves no process and no temp dir
//     behind. Stop is safe to call twice.
package cluster
