// Package monitor serves odbench's live dashboard for a running cluster.
//
// What flows through it, in order:
//
//  1. A Collector polls, every interval, the host (CPU, steal, memory,
//     network with gopsutil) and every node's GET /api/v1/metrics (goroutines,
//     heap, requests and 5xx counters, Raft commit index) and, where it is
//     served, GET /api/v1/admin/faults (the reference node's fault rules in
//     force), and probes each node's GET /api/v1/health once to time it.
//     From the deltas it derives one Snapshot: requests/s (per node and in
//     all), ops/s (Raft commits), error rate, latency average and p95 over
//     the probes of the last monitor.latency_window. A metric a target
//     does not expose is absent from the snapshot, never zero.
//  2. The alert Engine evaluates the configured rules (metric, condition,
//     threshold, for) on each snapshot: a rule whose condition held for
//     its whole duration fires, and resolves when it stops holding, keeping
//     the start it fired with and the instant it ended. A rule
//     with actions has each change queued for the notifier (actions.go),
//     which POSTs it in Alertmanager's webhook format or pipes it to a
//     command, retried with backoff, beside the collector and never in its
//     way; failures are logged and put in the snapshots.
//  3. The Server keeps a bounded history and hands every snapshot to its
//     WebSocket subscribers without ever blocking the collector (a slow
//     browser misses updates rather than stalling the poll). It also
//     serves the dashboard page (dashboard.html: uPlot time-series charts
//     with units and legends, a series per node where the metric is per
//     node, five minutes of history, faults shaded and alerts marked; uPlot
//     is vendored under static/ with its license, so the page works
//     offline), the snapshot as JSON and a Prometheus exposition of the
//     same numbers.
package monitor
