package scenarios

import (
	"context"
	"fmt"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// prefixPolicies are what loadbalance/prefix_cache compares, in order.
var prefixPolicies = []string{"round_robin", "prefix_affinity"}

// prefixCacheScenario compares round robin with prefix affinity (requests
// sharing a prefix go to the node that cached it, as KV-cache-aware
// routers such as llm-d's and Dynamo's do) on the shared-prefix workload:
// TTFT, the nodes' prefix cache hit rate, and how the load spread.
func prefixCacheScenario(cfg *config.Config) Spec {
	sp := cfg.Inference.Workload.SharedPrefix
	return Spec{
		Name:     "loadbalance/prefix_cache",
		MinNodes: 2,
		Params: map[string]string{"policies": "round_robin, prefix_affinity", "groups": itoa(sp.Groups),
			"prefix_tokens": itoa(sp.PrefixTokens), "clients_per_slot": itoa(cfg.LoadBalance.ClientsPerSlot)},
		Length: func(cfg *config.Config) time.Duration {
			return 2 * (cfg.Execution.WarmupDuration + cfg.Execution.Duration)
		},
		Run: runPrefixCache,
	}
}

func runPrefixCache(ctx context.Context, env *Env, c cluster.Cluster) error {
	if env.Target.Inference == nil {
		return Skip("the %s profile has no inference section", env.Target.Name)
	}
	ctl := env.FastClient(8)
	defer ctl.Close()
	api := env.API(ctl)
	nodes := c.Nodes()
	cleanup, err := ensureModel(ctx, env, api, c)
	if err != nil {
		return err
	}
	defer cleanup()
	in := env.Config.Inference
	in.Workload.Kind = "shared_prefix"
	wl, err := newWorkload(in, env.Seed)
	if err != nil {
		return err
	}
	env.res.Params = withParam(env.res.Params, "workload", wl.describe())
	slots := 0
	for _, n := range nodes {
		m, err := api.Metrics(ctx, n.API)
		if err != nil {
			return fmt.Errorf("reading %s's metrics: %w", n.ID, err)
		}
		slots += max(m.InferenceSlots, 1)
	}
	clients := slots * env.Config.LoadBalance.ClientsPerSlot
	client := env.Client(clients)
	defer client.CloseIdleConnections()
	t := inferTargetOf(env, false)
	hits := map[string]float64{}
	simulated := false
	for _, policy := range prefixPolicies {
		restore, err := switchPolicy(ctx, api, nodes, policy)
		if err != nil {
			return err
		}
		before, err := prefixCounts(ctx, api, nodes)
		if err != nil {
			restore()
			return err
		}
		st := newInferStats(in.SLOTTFT, in.SLOTPOT, clients)
		res, err := env.Closed(ctx, clients, generateOp(policy, client, bases(c), t, st, wl))
		restore()
		if err != nil {
			return err
		}
		after, err := prefixCounts(ctx, api, nodes)
		if err != nil {
			return err
		}
		hit, miss := after[0]-before[0], after[1]-before[1]
		if hit+miss > 0 {
			hits[policy] = 100 * hit / (hit + miss)
			env.Scalar("prefix_cache_hit_percent_"+policy, hits[policy], "%")
		}
		st.rec.Tick(res.MeasureEnd)
		for _, op := range st.rec.Ops() {
			if op.Name() != "ttft" {
				continue
			}
			snap := op.Snapshot(res.Measured())
			snap.Name, snap.PhaseOf = "ttft@"+policy, policy
			env.AddOperations(snap)
			env.Scalar("ttft_p50_ms_"+policy, float64(snap.Latency.P50Ns)/1e6, "ms")
			env.Scalar("ttft_p99_ms_"+policy, float64(snap.Latency.P99Ns)/1e6, "ms")
		}
		ids, counts := st.nodeShares()
		var total float64
		for _, n := range counts {
			total += n
		}
		for i, id := range ids {
			env.Scalar("share_"+id+"_"+policy, counts[i]/total, "fraction")
		}
		simulated = simulated || st.markedSimulated()
	}
	if simulated {
		env.Warn("simulated inference: the reference node's prefill follows --prompt-token-delay for the prompt tokens its prefix cache (--prefix-cache-tokens) does not hold")
	}
	rr, pa := hits["round_robin"], hits["prefix_affinity"]
	if len(hits) < 2 {
		env.Absent("prefix_affinity_gain", "points", "the nodes did not report their prefix cache (prefix_cache_hit_tokens in their metrics)")
		return nil
	}
	env.Scalar("prefix_affinity_gain", pa-rr, "points")
	// warn: what a policy gains depends on the nodes' caches against the
	// workload's prefixes; a gain of none is worth saying, not a failure.
	env.Check("prefix_affinity_hits_more", metrics.SeverityWarn, pa > rr,
		fmt.Sprintf("prefix cache hit rate %.1f%% under prefix_affinity, %.1f%% under round_robin", pa, rr))
	return nil
}

// prefixCounts sums the nodes' prefix cache hit and miss tokens.
func prefixCounts(ctx context.Context, api *API, nodes []cluster.Node) ([2]float64, error) {
	var out [2]float64
	for _, n := range nodes {
		m, err := api.Metrics(ctx, n.API)
		if err != nil {
			return out, fmt.Errorf("reading %s's metrics: %w", n.ID, err)
		}
		if m.PrefixHitTokens == nil || m.PrefixMissTokens == nil {
			return [2]float64{}, nil
		}
		out[0] += float64(*m.PrefixHitTokens)
		out[1] += float64(*m.PrefixMissTokens)
	}
	return out, nil
}
