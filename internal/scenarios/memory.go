package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
)

// memoryScenarios watch the nodes' Go runtime under the mixed workload:
// live-heap growth (a possible leak), GC frequency and pause time, and
// goroutine growth, from every node's GET /api/v1/metrics.
func memoryScenarios(cfg *config.Config) []Spec {
	w := cfg.Execution.ConcurrentWorkers
	return []Spec{{Name: fmt.Sprintf("memory/soak/clients=%d", w), Params: mixParams(cfg, w),
		Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runSoak(ctx, env, c, w) }}}
}

type memSample struct {
	at         time.Time
	heap       uint64
	gcCycles   uint32
	gcPauseNs  uint64
	goroutines int
}

// minSoakSeconds: a heap slope from fewer per-second minima is noise.
const minSoakSeconds = 10

func runSoak(ctx context.Context, env *Env, c cluster.Cluster, clients int) error {
	client := load.NewFastClient(clients, env.Config.API.RequestTimeout)
	defer client.Close()
	api := NewAPI(client)
	if _, err := api.Metrics(ctx, bases(c)[0]); errors.Is(err, ErrUnsupported) {
		return Skip("the target serves no runtime metrics (GET /api/v1/metrics)")
	}
	ops, cleanup, err := mixOps(ctx, env, c, client)
	if err != nil {
		return err
	}
	defer cleanup()
	samples := map[string][]memSample{}
	var mu sync.Mutex
	pctx, stop := context.WithCancel(ctx)
	var polling sync.WaitGroup
	polling.Add(1)
	go func() {
		defer polling.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case now := <-t.C:
				for _, n := range c.Nodes() {
					m, err := api.Metrics(pctx, n.API)
					if err != nil {
						continue
					}
					mu.Lock()
					samples[n.ID] = append(samples[n.ID], memSample{now, m.HeapAllocBytes, m.GCCycles, m.GCPauseTotalNs, m.Goroutines})
					mu.Unlock()
				}
			}
		}
	}()
	res, err := env.Closed(ctx, clients, ops...)
	stop()
	polling.Wait()
	if err != nil {
		return err
	}
	worst, worstNode := 0.0, ""
	for _, n := range c.Nodes() {
		var in []memSample
		for _, s := range samples[n.ID] {
			if !s.at.Before(res.MeasureStart) && !s.at.After(res.MeasureEnd) {
				in = append(in, s)
			}
		}
		if len(in) < 2 {
			env.Absent("gc_cycles_per_s_"+n.ID, "cycles/s", "fewer than two metrics samples in the measured window")
			continue
		}
		first, last := in[0], in[len(in)-1]
		secs := last.at.Sub(first.at).Seconds()
		env.Scalar("gc_cycles_per_s_"+n.ID, float64(last.gcCycles-first.gcCycles)/secs, "cycles/s")
		env.Scalar("gc_pause_ms_per_s_"+n.ID, float64(last.gcPauseNs-first.gcPauseNs)/1e6/secs, "ms/s")
		env.Scalar("goroutine_growth_"+n.ID, float64(last.goroutines-first.goroutines), "goroutines")
		slope, ok := liveHeapSlope(in)
		if !ok {
			env.Absent("heap_slope_mb_per_min_"+n.ID, "MB/min", fmt.Sprintf("needs at least %d s measured (the heap's per-second minima), got %.0f s", minSoakSeconds, secs))
			continue
		}
		env.Scalar("heap_slope_mb_per_min_"+n.ID, slope, "MB/min")
		if slope > worst || worstNode == "" {
			worst, worstNode = slope, n.ID
		}
	}
	if worstNode == "" {
		env.Absent("heap_slope_mb_per_min", "MB/min", fmt.Sprintf("no node had %d s of measurement", minSoakSeconds))
		return nil
	}
	limit := env.Config.Memory.LeakSlopeMBPerMin
	env.Scalar("heap_slope_mb_per_min", worst, "MB/min")
	env.Check("no_heap_growth", worst <= limit, fmt.Sprintf("node %s's live heap grew %.2f MB/min (limit %g)", worstNode, worst, limit))
	return nil
}

// liveHeapSlope fits a line through the per-second minima of the heap
// (the live heap, under the GC's sawtooth) and returns MB per minute.
func liveHeapSlope(in []memSample) (float64, bool) {
	start := in[0].at
	minima := map[int]uint64{}
	for _, s := range in {
		sec := int(s.at.Sub(start).Seconds())
		if v, ok := minima[sec]; !ok || s.heap < v {
			minima[sec] = s.heap
		}
	}
	if len(minima) < minSoakSeconds {
		return 0, false
	}
	var n, sx, sy, sxx, sxy float64
	for sec, v := range minima {
		x, y := float64(sec), float64(v)/(1<<20)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, false
	}
	return 60 * (n*sxy - sx*sy) / den, true
}
