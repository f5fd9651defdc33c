package scenarios

import (
	"context"
	"fmt"
	"strconv"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
)

// inferenceScenarios: streamed generate requests at each concurrency level
// and at a Poisson arrival rate, with the metrics LLM-serving users compare
// (vLLM's and llmperf's definitions): TTFT, TPOT = (e2e - TTFT) / (output
// tokens - 1), ITL per inter-token gap, e2e latency, output tokens/s,
// requests/s and goodput (requests within both SLOs). Token counts come
// from the server's eval_count, not from counting chunks.
func inferenceScenarios(cfg *config.Config) []Spec {
	var out []Spec
	for _, clients := range cfg.System.ConcurrencyLevels {
		out = append(out, Spec{
			Name:   fmt.Sprintf("inference/generate/clients=%d", clients),
			Params: map[string]string{"clients": itoa(clients), "num_predict": itoa(cfg.Inference.NumPredict)},
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
				return runInference(ctx, env, c, clients, 0)
			},
		})
	}
	rate := cfg.Inference.Rate
	out = append(out, Spec{
		Name:   "inference/generate/poisson_rate=" + strconv.FormatFloat(rate, 'f', -1, 64),
		Params: map[string]string{"rate_per_s": strconv.FormatFloat(rate, 'f', -1, 64), "arrival": "poisson", "num_predict": itoa(cfg.Inference.NumPredict)},
		Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
			return runInference(ctx, env, c, 0, rate)
		},
	})
	return out
}

// runInference drives streamed generate requests: closed loop of clients,
// or (clients == 0) Poisson arrivals at rate.
func runInference(ctx context.Context, env *Env, c cluster.Cluster, clients int, rate float64) error {
	if env.Target.Inference == nil {
		return Skip("the %s profile has no inference section", env.Target.Name)
	}
	_, done, err := withModel(ctx, env, c)
	if err != nil {
		return err
	}
	defer done()
	in := env.Config.Inference
	workers := clients
	if clients == 0 {
		workers = env.Config.API.MaxInFlight
	}
	client := env.Client(workers)
	defer client.CloseIdleConnections()
	wl, err := env.workload()
	if err != nil {
		return err
	}
	st := newInferStats(in.SLOTTFT, in.SLOTPOT, workers)
	op := generateOp(requestOp, client, bases(c), inferTargetOf(env, false), st, wl)
	var res *load.Result
	if clients > 0 {
		res, err = env.Closed(ctx, clients, op)
	} else {
		res, err = env.OpenArrivals(ctx, rate, true, workers, op)
	}
	if err != nil {
		return err
	}
	st.finish(env, res)
	return nil
}
