package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/scenarios"
)

// clusterPlan is one cluster to start and the repetitions to run on it.
type clusterPlan struct {
	where  Where
	driver cluster.Driver
	reps   []int
}

// plans lists the clusters of one size: one for every repetition, or, in
// an A/B run, two per repetition in the order A B, B A, A B, ...
func (r *Runner) plans(size int) []clusterPlan {
	count := r.opt.Config.Execution.Count
	if r.opt.Baseline == nil {
		reps := make([]int, count)
		for i := range reps {
			reps[i] = i + 1
		}
		return []clusterPlan{{where: Where{Size: size}, driver: r.opt.Driver, reps: reps}}
	}
	a := func(rep int) clusterPlan {
		return clusterPlan{where: Where{size, SideBaseline}, driver: r.opt.Baseline.Driver, reps: []int{rep}}
	}
	b := func(rep int) clusterPlan {
		return clusterPlan{where: Where{size, SideCurrent}, driver: r.opt.Driver, reps: []int{rep}}
	}
	var out []clusterPlan
	for rep := 1; rep <= count; rep++ {
		if rep%2 == 1 {
			out = append(out, a(rep), b(rep))
		} else {
			out = append(out, b(rep), a(rep))
		}
	}
	return out
}

// describeTarget describes what a driver measures, with the nodes' build.
func describeTarget(ctx context.Context, d cluster.Driver, describe string) metrics.Target {
	t := metrics.Target{Driver: d.Name(), Description: describe}
	v, ok := d.(cluster.Versioner)
	if !ok {
		t.VersionReason = "the " + d.Name() + " driver cannot tell the nodes' build"
		return t
	}
	version, err := v.Version(ctx)
	if err != nil {
		t.VersionReason = err.Error()
	} else {
		t.Version = version
	}
	return t
}

// planHash identifies a sharded plan: the configuration every shard shares
// (all but the shard's index), the sizes and the scenarios in order. Merge
// refuses shards whose hashes differ.
func planHash(cfg *config.Config, specs []scenarios.Spec, sizes []int) string {
	c := *cfg
	c.Shard.Index = 0
	h := sha256.New()
	_ = json.NewEncoder(h).Encode(c)
	fmt.Fprintln(h, sizes)
	for _, s := range specs {
		fmt.Fprintln(h, s.Name)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}
