// Package metrics records measurements and defines the results file.
//
// What flows through it, in order:
//
//  1. Recording. A Recorder holds one Op per operation name. Load workers
//     call Op.Shard(i) once and then Shard.Record for every completed
//     operation: a shard is one of a few striped HDR histograms guarded by a
//     lock that only its workers and the interval collector take, so there is
//     no global lock per request. In open-loop mode a shard records two
//     values per operation: latency from the intended start (corrected for
//     coordinated omission, the primary view) and from the actual start
//     (uncorrected). Values outside the histogram's range are counted in
//     OutOfRange, never dropped silently.
//  2. Intervals. Recorder.Tick (called once a second by the load engine)
//     swaps each shard's histogram for an empty one, merges them into the
//     operation's total and appends one Interval to the timeline.
//  3. Sampling. A Sampler polls CPU, RSS, open files of given PIDs and the
//     whole host with gopsutil, at 1 s by default; on Linux also the share
//     of CPU time the hypervisor gave to other guests (steal).
//  4. Results. Snapshot turns an Op into an Operation: counts, errors by
//     kind, unfinished operations, throughput (successes completed inside
//     the window over the window, when the engine counted them), percentiles
//     in nanoseconds and the HDR histogram itself (base64 of
//     hdrhistogram-go's V2 compressed encoding). A Run (schema_version 1)
//     holds every cluster's scenarios; WriteRun writes it atomically and
//     ReadRun refuses files from a newer schema, and fills what older files
//     of this schema left empty (check severities, phase markers) so they
//     read as they were judged.
//  5. Verdict (verdict.go). Judge sets a scenario's status from its checks
//     (severity fail), its request error rate outside fault windows, and
//     whether any request succeeded; SummaryOf counts outcomes and checks;
//     SplitSides cuts an A/B run into its two sides. The runner, report and
//     compare all use these, so a results file alone yields its verdict.
//  6. Merge adds runs of one plan made at once from several load machines,
//     or the shards of one plan (ShardInfo: 0..N-1 of one plan hash, each
//     once, or ErrShards): histograms exactly, counts, errors, the load
//     applied and the scalars per second; scenarios a shard skipped come
//     from the shards that ran them; the spread of the shards' window
//     starts is recorded per scenario.
//  7. Statistics: Jain's fairness index and the knee of a closed-loop
//     family (Knee).
//
// This package prints nothing.
package metrics
