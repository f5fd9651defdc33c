// Package cluster starts, observes, breaks and stops the clusters odbench
// benchmarks, as their target profile (package target) says.
//
// What flows through it, in order:
//
//  1. The runner picks a Driver and calls Start(ctx, n) once per cluster
//     to run. The Starter starts clusters of any profile with a start
//     section (the reference node's, etcd's, a user's): it picks every
//     member's named ports free (below the kernel's ephemeral range, and
//     again when a member lost one to another process), renders each member's command, config
//     file and environment from the profile's templates, starts the
//     members all at once or member 1 first, and waits until each is up
//     (its ready log line or request) and then until the profile's ready
//     conditions hold on every member. External reaches a cluster that
//     already runs: each node must answer its health request, then the
//     same ready conditions. A cluster that does not meet them within the
//     start timeout is returned beside an error wrapping ErrNotFormed, so
//     the runner can skip or measure it as unformed.
//  2. While it runs, the Starter records members that exit unasked
//     (Deaths, DeathNotice) and External answers Probe. Both read their
//     members' views (ID, leader, term, indexes) through the profile's
//     status request (Observer), and say whether the cluster settled
//     after a scenario (Healther): one leader everyone follows, every
//     member caught up.
//  3. Scenarios read Nodes() (ID, API URL, PID) and talk to the members
//     over HTTP themselves. Fault scenarios look for abilities (Killer,
//     Restarter, Pauser, Partitioner, Shaper, DiskSlower); Lacks says why
//     a cluster lacks one, from the driver and the profile, and the
//     scenario is skipped with that reason. Signals reach the member
//     processes; partitions and link shaping go through the system's own
//     fault routes (faults.network: api) or through NetworkFaults made
//     from outside the members (faults.network: kernel, package
//     netfault), which the cli hands the Starter.
//  4. The runner calls Stop, which heals, leaves no process, cgroup,
//     nftables table or temp dir behind, and is safe to call twice.
//
// One file per concern:
//
//   - cluster.go: the interfaces, abilities and sentinel errors.
//   - start.go: the Starter, its port plan and formation wait.
//   - ports.go: choosing free ports, and telling a start that lost one.
//   - member.go: one member: rendering its templates, starting it in its
//     cgroup, its ready line or request, what member 1 printed
//     (capture), restarting it with its directory and ports.
//   - observe.go: requests paced below the profile's rate limit, the
//     members' status, the ready conditions, the settle check.
//   - faults.go: faults of a started cluster, by signal, by the profile's
//     fault routes, or by NetworkFaults.
//   - proc.go: the supervisor of member processes: own process group,
//     parent-death signal, logs, the tail of stderr, signals, stop, and
//     removal of temp dirs a killed run left behind.
//   - deaths.go: the record of a member that exited unasked (exit state,
//     first fatal log line, stderr tail), which the runner reads.
//   - external.go: the external driver (an already running cluster).
//   - poll.go: pollUntil, the one loop every wait uses.
//   - version.go: Versioner for each driver.
package cluster
