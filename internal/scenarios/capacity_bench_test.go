package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/config"
)

// BenchmarkCapacityGroundTruth checks the capacity search against the
// capacity the reference node's flags imply: one node serves
// slots / (ISL × prompt_token_delay + OSL × token_delay) requests a
// second, and round robin on n nodes n times that. It reports the
// throughput probe's and capacity_rps's ratios to that figure on 1 and 3
// nodes (make bench-capacity; within ±10% where the host is not the
// limit), with an SLO loose enough not to bind.
func BenchmarkCapacityGroundTruth(b *testing.B) {
	const (
		slots, isl, osl = 4, 16, 8
		prompt, token   = 2 * time.Millisecond, 20 * time.Millisecond
	)
	perNode := float64(slots) / (isl*prompt.Seconds() + osl*token.Seconds())
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			c := localtest.Start(b, nodes, "--slots", fmt.Sprint(slots), "--prompt-token-delay", prompt.String(),
				"--token-delay", token.String(), "--prefix-cache-tokens", "0")
			cfg := config.Default()
			cfg.Inference.Prompt = strings.TrimSpace(strings.Repeat("word ", isl))
			cfg.Inference.NumPredict = osl
			cfg.Capacity.SLO = config.SLO{TTFTP99: 10 * time.Second, TPOTP99: 5 * time.Second, E2EP99: 30 * time.Second, ErrorRatePercent: 1}
			cfg.Capacity.PrecisionPercent = 5
			cfg.Capacity.MaxClients = 2 * slots * nodes
			spec := specNamed2(b, &cfg, "inference/capacity")
			want := perNode * float64(nodes)
			for i := 0; i < b.N; i++ {
				env := NewEnv(&cfg, slog.New(slog.DiscardHandler), spec, b.TempDir(), uint64(i+1))
				ctx, cancel := context.WithTimeout(context.Background(), capacityTimeout)
				err := spec.Run(ctx, env, c)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				res, _, _ := env.Result()
				sw := res.Sweep
				if sw == nil || sw.Capacity == nil || len(sw.Points) < 2 {
					b.Fatalf("no capacity: %+v", sw)
				}
				thr := sw.Points[1].AchievedRPS
				b.ReportMetric(want, "computed-rps")
				b.ReportMetric(thr/want, "throughput/computed")
				b.ReportMetric(*sw.Capacity/want, "capacity/computed")
				b.Logf("%d nodes: computed %.1f/s, throughput probe %.1f/s (%.2f), capacity %.1f/s (%.2f; bracket %.1f..%.1f, %s)",
					nodes, want, thr, thr/want, *sw.Capacity, *sw.Capacity/want, sw.BracketLow, sw.BracketHigh, sw.Binding)
			}
		})
	}
}

func specNamed2(b *testing.B, cfg *config.Config, name string) Spec {
	for _, s := range All(cfg) {
		if s.Name == name {
			return s
		}
	}
	b.Fatalf("no scenario %q", name)
	return Spec{}
}
