// Package node is odbench's embedded reference node, run as `odbench node`
// and started N times by the local cluster driver. Its parts are real:
// hashicorp/raft with hashicorp/raft-wal (raft-boltdb without fsync under
// --fsync=false) and file snapshots, hashicorp/memberlist gossip,
// content-addressed blobs on disk, a Prometheus /metrics.
// Only inference is simulated, with honest timing.
//
// What flows through it, in order:
//
//  1. Run binds every listener on port 0 (or the ports it is given on a
//     restart), starts Raft (bootstrapping a new cluster, or joining one
//     through any member's API; a lone voter elects itself at once), starts
//     memberlist, serves the HTTP API, waits until it knows a leader (until
//     then it could serve no write, and /api/v1/health answers 503) and
//     prints one JSON "ready" line on stdout with its real addresses.
//     Raft's timings default to hashicorp/raft's own (1 s heartbeat and
//     election timeouts, 500 ms leader lease), which survive a host whose
//     CPU other work holds.
//  2. Writes (KV, model registry, node registry, drain state) are Raft
//     commands applied by the FSM on every node. With --fsync the log is
//     raft-wal's: one fsync per batch of entries, where bbolt syncs its
//     pages and then its meta page. A log cache keeps recent
//     entries in memory for replication. A write sent to a follower
//     is forwarded by that follower to the leader's API (one extra hop,
//     header X-Forwarded-By, the command already in its log encoding so
//     the leader appends it as it is), so clients may write to any node; with no
//     leader the answer is 503 with Retry-After. A failed write that
//     certainly never reached the Raft log says so (X-Not-Applied: true),
//     so a linearizability checker need not count it as possibly applied.
//  3. Reads are linearizable by default (read index: the leader notes its
//     commit index, confirms leadership with VerifyLeader and waits until
//     it has applied that index; followers forward), or stale on request
//     (?consistency=stale) from the local FSM.
//  4. Gossip carries node metadata (API address, models held, inference in
//     flight, drained) and broadcasts; every node records when each
//     broadcast arrived. A member the node registry registers (through
//     Raft) is joined through gossip at once, so members that joined
//     together know each other without waiting for memberlist's push-pull.
//  5. Models are blobs named by their sha256. A download pulls byte ranges
//     from the nodes that hold the blob in parallel, verifies the digest
//     (a mismatch is rejected and never registered) and registers the
//     replica through Raft. A reconciler converges every model to the
//     replication factor.
//  6. Inference requests (Ollama's /api/generate and /api/chat,
//     /api/v1/generate and /api/v1/chat, OpenAI's /v1/chat/completions
//     and /v1/completions) are scheduled by the receiving
//     node onto a node holding the model, by policy (round robin, least
//     connections, random, or prefix affinity: the same leading prompt
//     block to the same node, by rendezvous hashing), and proxied; the
//     serving node takes one of its slots (--slots is its batch), pays
//     model load time when the model is not cached, prefill time for the
//     prompt tokens (words) its prefix cache does not hold (prefix.go: an
//     LRU of 16-token blocks, --prefix-cache-tokens), and one token delay
//     per output token, streaming each token as it is "generated". Every
//     answer says its timing is simulated (X-Odbench-Simulated).
//  7. A fault filter at the Raft stream layer, memberlist's transport and
//     the node-to-node HTTP client cuts or shapes traffic to and from
//     chosen peers (delay with jitter, loss, a bandwidth cap; partitions
//     are real at the node's network edge) and slows the Raft log's
//     writes. Debug flags (config.go) break the node in known ways for
//     odbench's negative controls: stale follower reads, acknowledging a
//     put before it commits, added latency, a hanging route, a leak, a
//     stuck round robin.
//
// One file per concern: node.go (Run and shutdown), config.go (flags and
// their validation), http.go (routes with their time bounds, middleware,
// JSON helpers), raft.go (the log, applying, read index, the leader),
// forward.go (writes and reads a follower sends to the leader; 503 without
// a leader, 504 or 502 naming a leader that stalls or cannot be reached),
// join.go, membership.go (cluster status, join, leave, the node registry),
// kv.go, models.go (with the replication loop), blobs.go, p2p.go,
// gossip.go, infer.go (simulated inference and its timing), prefix.go
// (the prefix cache and prefix affinity's hashing), wire.go (how
// answers are encoded: Ollama NDJSON, OpenAI JSON and SSE), admin.go (the
// fault filter and policy routes), faults.go (the filter itself), fsm.go,
// codec.go (commands in the log: KV ones as compact binary, the others
// JSON), metrics.go and runtime_metrics.go.
//
// It imports only config (the policy list) and pace (precise debug
// latency) of odbench; nothing that benchmarks it imports it, and the
// local driver starts it as a process.
package node
