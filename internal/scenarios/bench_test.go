package scenarios

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/config"
)

// Go benchmark entry points for users of the older framework:
//
//	go test -bench=BenchmarkConsensusOperations ./...
//
// Each starts a small local cluster once, runs the same scenario code as
// `odbench run` (ODBENCH_BENCH_DURATION per scenario, 3 s by default) and
// reports ops/s and p99 per operation with b.ReportMetric, so benchstat
// can compare two runs.

func BenchmarkConsensusOperations(b *testing.B) {
	benchScenarios(b, 3, "consensus/apply/clients=1/value=128B", "consensus/apply/clients=16/value=128B",
		"consensus/apply/clients=256/value=128B", "consensus/read/linearizable/clients=16", "consensus/read/stale/clients=16")
}

func BenchmarkAPIEndpoints(b *testing.B) {
	benchScenarios(b, 3, "api/health_check/clients=10", "api/cluster_status/clients=10", "api/node_operations/clients=10",
		"api/model_operations/clients=10", "api/generate_requests/clients=10")
}

func BenchmarkConcurrentOperations(b *testing.B) {
	benchScenarios(b, 3, "concurrency/mixed/clients=16", "concurrency/contention/op=kv_write")
}

func BenchmarkLoadBalancing(b *testing.B) {
	benchScenarios(b, 3, "loadbalance/policy=round_robin", "loadbalance/policy=least_connections", "loadbalance/saturation")
}

func benchConfig() *config.Config {
	cfg := config.Default()
	cfg.Execution.ConcurrentWorkers = 16
	cfg.Execution.WarmupDuration = time.Second
	cfg.Execution.Duration = 3 * time.Second
	if d, err := time.ParseDuration(os.Getenv("ODBENCH_BENCH_DURATION")); err == nil && d >= time.Second {
		cfg.Execution.Duration = d
	}
	cfg.System.ConcurrencyLevels = []int{1, 10, 50}
	return &cfg
}

func benchScenarios(b *testing.B, nodes int, names ...string) {
	cfg := benchConfig()
	c := localtest.Start(b, nodes, "--fsync=true") // as odbench run does; the later flag wins
	specs := map[string]Spec{}
	for _, s := range All(cfg) {
		specs[s.Name] = s
	}
	for _, name := range names {
		spec, ok := specs[name]
		if !ok {
			b.Fatalf("no scenario %q", name)
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				env := NewEnv(cfg, slog.New(slog.DiscardHandler), spec, b.TempDir(), uint64(i+1))
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				err := spec.Run(ctx, env, c)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				res, _, _ := env.Result()
				for _, op := range res.Operations {
					b.ReportMetric(op.ThroughputOpsPerSec, op.Name+"-ops/s")
					b.ReportMetric(float64(op.Latency.P99Ns)/1e6, op.Name+"-p99-ms")
				}
			}
		})
	}
}
