package scenarios

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/target"
)

// BenchmarkNodeVsEtcd puts the reference node beside etcd, the production
// Raft key-value store users hold it against: 3 members each, fsync on
// both, the same closed-loop put load (128-byte values, random keys,
// requests to every member in turn) at 1, 16 and 256 clients, 5 s each,
// interleaved over 3 rounds (node then etcd, then etcd then node). It
// prints writes/s and p99 per system and round, and the medians' ratios
// (make bench-vs-etcd). Both clusters run throughout, each idle while the
// other is measured.
func BenchmarkNodeVsEtcd(b *testing.B) {
	if _, err := exec.LookPath("etcd"); err != nil {
		b.Skip("etcd is not installed: apt-get install etcd-server")
	}
	rounds, dur := 3, 5*time.Second
	if d, err := time.ParseDuration(os.Getenv("ODBENCH_BENCH_DURATION")); err == nil && d >= time.Second {
		dur = d
	}
	type system struct {
		name string
		c    cluster.Cluster
		kv   *kvClient
	}
	start := func(profile string, args ...string) system {
		p, err := target.Load(profile)
		if err != nil {
			b.Fatal(err)
		}
		d, err := cluster.NewStarter(cluster.StartOptions{Profile: p, Self: clustertest.Binary, TempRoot: b.TempDir(), ExtraArgs: args})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := d.Start(ctx, 3)
		if c != nil {
			b.Cleanup(func() { _ = c.Stop(context.Background()) })
		}
		if err != nil {
			b.Fatal(err)
		}
		fast := load.NewFastClient(512, 10*time.Second)
		b.Cleanup(fast.Close)
		kv, err := newKV(p, fastExchanger{fast})
		if err != nil {
			b.Fatal(err)
		}
		return system{profile, c, kv}
	}
	systems := []system{start("odbench-node", "--fsync=true"), start("etcd")}
	value := []byte(strings.Repeat("v", 128))
	type cell struct{ rps, p99ms []float64 }
	results := map[string]map[int]*cell{}
	clientsList := []int{1, 16, 256}
	for r := range rounds {
		order := slices.Clone(systems)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, clients := range clientsList {
			for _, s := range order {
				nodes := bases(s.c)
				var next atomic.Uint64
				op := load.Operation{Name: "put", Do: func(ctx context.Context) error {
					i := next.Add(1)
					_, err := s.kv.Put(ctx, nodes[int(i)%len(nodes)], fmt.Sprintf("bench-%d", rand.Uint64()), value)
					return err
				}}
				ctx, cancel := context.WithTimeout(context.Background(), dur+time.Minute)
				res, err := load.RunClosed(ctx, load.Closed{Workers: clients, Warmup: time.Second, Duration: dur, Seed: uint64(r)}, op)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				o := res.Operations()[0]
				if o.Errors > 0 {
					b.Fatalf("%s at %d clients: %d errors %v", s.name, clients, o.Errors, o.ErrorsByKind)
				}
				if results[s.name] == nil {
					results[s.name] = map[int]*cell{}
				}
				if results[s.name][clients] == nil {
					results[s.name][clients] = &cell{}
				}
				c := results[s.name][clients]
				c.rps, c.p99ms = append(c.rps, o.ThroughputOpsPerSec), append(c.p99ms, float64(o.Latency.P99Ns)/1e6)
			}
		}
	}
	median := func(v []float64) float64 {
		s := slices.Clone(v)
		sort.Float64s(s)
		return s[len(s)/2]
	}
	span := func(v []float64, f string) string {
		return fmt.Sprintf(f+"-"+f, slices.Min(v), slices.Max(v))
	}
	fmt.Printf("\nreference node against etcd: 3 members each, fsync on, puts of 128 B, %d interleaved rounds of %v\n", rounds, dur)
	fmt.Printf("| clients | node writes/s | etcd writes/s | median ratio | node p99 ms | etcd p99 ms | p99 ratio |\n|---|---|---|---|---|---|---|\n")
	for _, clients := range clientsList {
		n, e := results["odbench-node"][clients], results["etcd"][clients]
		rps, p99 := median(n.rps)/median(e.rps), median(n.p99ms)/median(e.p99ms)
		fmt.Printf("| %d | %s | %s | %.2f | %s | %s | %.2f |\n", clients, span(n.rps, "%.0f"), span(e.rps, "%.0f"), rps,
			span(n.p99ms, "%.1f"), span(e.p99ms, "%.1f"), p99)
		b.ReportMetric(rps, fmt.Sprintf("writes-ratio-%dc", clients))
		b.ReportMetric(p99, fmt.Sprintf("p99-ratio-%dc", clients))
	}
}
