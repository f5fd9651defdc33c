// GET /api/v1/metrics: the node's Go runtime and Raft figures as JSON
// (Prometheus's /metrics is in metrics.go).

package node

import (
	"net/http"
	"runtime"
	"runtime/metrics"
	"time"
)

// liveHeap reads the heap the last GC found live (runtime/metrics
// /gc/heap/live:bytes): unlike HeapAlloc it has no allocation sawtooth, so
// its trend over GC cycles is the leak signal.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func (n *Node) metricsJSON(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": n.cfg.ID, "uptime_s": time.Since(n.started).Seconds(),
		"goroutines": runtime.NumGoroutine(), "heap_alloc_bytes": ms.HeapAlloc, "heap_inuse_bytes": ms.HeapInuse,
		"heap_live_bytes": liveHeap(),
		"sys_bytes":       ms.Sys, "gc_cycles": ms.NumGC, "gc_pause_total_ns": ms.PauseTotalNs,
		"raft_state": n.raft.State().String(), "raft_commit_index": n.raft.CommitIndex(), "raft_applied_index": n.fsm.AppliedIndex(),
		"raft_leader_changes": n.leaderChanges.Load(), "gossip_members": n.ml.NumMembers(),
		"inference_in_flight": n.infer.active.Load(), "inference_queued": n.infer.queued.Load(), "inference_slots": n.cfg.Slots,
		"prefix_cache_hit_tokens": n.infer.prefixHits.Load(), "prefix_cache_miss_tokens": n.infer.prefixMisses.Load(),
		"inference_simulated": true,
		"kv_keys":             n.fsm.KVCount(), "models_registered": len(n.fsm.Models()), "blobs_local_bytes": n.blobs.bytes(),
		"requests_total": n.requests.Load(), "server_errors_total": n.serverErrors.Load(),
	})
}
