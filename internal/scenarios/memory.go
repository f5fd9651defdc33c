package scenarios

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// memoryScenarios watch the nodes' Go runtime under the mixed workload:
// live-heap growth (a possible leak), GC frequency and pause time, and
// goroutine growth, from every node's runtime metrics (the profile's
// metrics route).
//
// The leak check fits a line through the live heap after each collection.
// A node's own collections are too few to fit (a 20 s soak at GOGC 400
// sees about 7), and the more a node leaks the fewer there are: a swelling
// heap spaces them further apart. So where the target lets it (a Go
// target's GET /debug/pprof/heap?gc=1, the profile's gc route, collects
// before it answers), the
// soak collects on every node about ten times over the soak (at most once
// a second) and reads the live heap right after.
func memoryScenarios(cfg *config.Config) []Spec {
	w := cfg.Execution.ConcurrentWorkers
	return []Spec{{Name: fmt.Sprintf("memory/soak/clients=%d", w), Params: mixParams(cfg, w),
		Length: func(cfg *config.Config) time.Duration { return cfg.Execution.WarmupDuration + cfg.SoakDuration() },
		// Room for the soak, whatever execution.scenario_timeout allows one measurement.
		Timeout: max(cfg.Execution.ScenarioTimeout, cfg.Execution.WarmupDuration+cfg.SoakDuration()+time.Minute),
		Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
			env.Duration = env.Config.SoakDuration()
			return runSoak(ctx, env, c, w)
		}}}
}

type memSample struct {
	at         time.Time
	heapLive   uint64 // live heap after the last GC; 0 when the target does not report it
	gcCycles   uint32
	gcPauseNs  uint64
	goroutines int
}

// Leak slope requirements: a line through fewer GC cycles, or over a
// shorter span, is noise (the live heap moves by the objects in flight).
const (
	minSoakGCCycles = 5
	minSoakSpan     = 5 * time.Second
)

func runSoak(ctx context.Context, env *Env, c cluster.Cluster, clients int) error {
	client := load.NewFastClient(clients, env.Config.API.RequestTimeout)
	defer client.Close()
	api := env.API(client)
	if _, err := api.Metrics(ctx, bases(c)[0]); errors.Is(err, ErrUnsupported) {
		return Skip("the target serves no runtime metrics: %v", err)
	}
	ops, cleanup, err := mixOps(ctx, env, c, client)
	if err != nil {
		return err
	}
	defer cleanup()
	forced := canForceGC(ctx, api, c)
	interval := 250 * time.Millisecond
	if forced {
		// About ten collections over the soak, at most one a second.
		interval = min(max(env.Duration/10, 250*time.Millisecond), time.Second)
	}
	samples := map[string][]memSample{}
	var mu sync.Mutex
	pctx, stop := context.WithCancel(ctx)
	var polling sync.WaitGroup
	polling.Add(1)
	go func() {
		defer polling.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case now := <-t.C:
				for _, n := range c.Nodes() {
					if forced && forceGC(pctx, api, n.API) != nil {
						continue
					}
					m, err := api.Metrics(pctx, n.API)
					if err != nil {
						continue
					}
					mu.Lock()
					samples[n.ID] = append(samples[n.ID], memSample{now, m.HeapLiveBytes, m.GCCycles, m.GCPauseTotalNs, m.Goroutines})
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
	var absent []string
	for _, n := range c.Nodes() {
		var in []memSample
		for _, s := range samples[n.ID] {
			if !s.at.Before(res.MeasureStart) && !s.at.After(res.MeasureEnd) {
				in = append(in, s)
			}
		}
		if len(in) < 2 {
			why := "fewer than two metrics samples in the measured window"
			env.Absent("gc_cycles_per_s_"+n.ID, "cycles/s", why)
			absent = append(absent, n.ID+": "+why)
			continue
		}
		first, last := in[0], in[len(in)-1]
		secs := last.at.Sub(first.at).Seconds()
		env.Scalar("gc_cycles_per_s_"+n.ID, float64(last.gcCycles-first.gcCycles)/secs, "cycles/s")
		env.Scalar("gc_pause_ms_per_s_"+n.ID, float64(last.gcPauseNs-first.gcPauseNs)/1e6/secs, "ms/s")
		env.Scalar("goroutine_growth_"+n.ID, float64(last.goroutines-first.goroutines), "goroutines")
		slope, why := liveHeapSlope(in)
		if why != "" {
			env.Absent("heap_slope_mb_per_min_"+n.ID, "MB/min", why)
			absent = append(absent, n.ID+": "+why)
			continue
		}
		env.Scalar("heap_slope_mb_per_min_"+n.ID, slope, "MB/min")
		if slope > worst || worstNode == "" {
			worst, worstNode = slope, n.ID
		}
	}
	limit := env.Config.Memory.LeakSlopeMBPerMin
	how := "after each of the node's own collections"
	if forced {
		how = "after a collection forced every second"
	}
	// fail: finding a leak is what this scenario is for, and the slope is
	// fitted over the live heap after each GC, not over the GC's sawtooth.
	// A leak check that could not look has not shown there is no leak: it
	// fails, with the reason.
	if len(absent) > 0 {
		env.Absent("heap_slope_mb_per_min", "MB/min", "the live heap of "+strings.Join(absent, "; "))
		env.Check("no_heap_growth", metrics.SeverityFail, false,
			"could not be evaluated: the live heap of "+strings.Join(absent, "; ")+
				"; lengthen execution.duration, or let the target collect on request (a gc route in its profile, such as GET /debug/pprof/heap?gc=1)")
		return nil
	}
	env.Scalar("heap_slope_mb_per_min", worst, "MB/min")
	env.Check("no_heap_growth", metrics.SeverityFail, worst <= limit,
		fmt.Sprintf("node %s's live heap grew %.2f MB/min %s (limit %g)", worstNode, worst, how, limit))
	return nil
}

// canForceGC reports whether every node collects garbage on request
// (the profile's gc route: a Go target serving net/http/pprof collects
// before it answers a heap profile asked for with gc=1).
func canForceGC(ctx context.Context, api *API, c cluster.Cluster) bool {
	if !api.Has("gc") {
		return false
	}
	for _, n := range c.Nodes() {
		if forceGC(ctx, api, n.API) != nil {
			return false
		}
	}
	return true
}

// forceGC asks the node at base to collect (its answer is read and dropped).
func forceGC(ctx context.Context, api *API, base string) error {
	return api.Call(ctx, base, "gc", target.Vars{}, nil)
}

// liveHeapSlope fits a line through the live heap after each GC cycle
// (one point per cycle, in MB, 10^6 bytes) and returns its slope in MB per
// minute, or why it could not: the target does not report a live heap,
// too few GC cycles, or too short a span.
func liveHeapSlope(in []memSample) (float64, string) {
	type point struct {
		at   time.Time
		heap uint64
	}
	var pts []point
	var lastCycles uint32
	for _, s := range in {
		if s.heapLive == 0 {
			if s.gcCycles == 0 {
				continue // no collection yet, so no live heap to read
			}
			return 0, "the target reports no live heap after GC (heap_live_bytes in its metrics route)"
		}
		if len(pts) == 0 || s.gcCycles != lastCycles {
			pts = append(pts, point{s.at, s.heapLive})
		}
		lastCycles = s.gcCycles
	}
	cycles := int(in[len(in)-1].gcCycles - in[0].gcCycles)
	if cycles < minSoakGCCycles {
		return 0, fmt.Sprintf("needs at least %d GC cycles in the measured window, saw %d", minSoakGCCycles, cycles)
	}
	if len(pts) < 2 {
		return 0, fmt.Sprintf("needs the live heap after at least 2 GC cycles, read it after %d", len(pts))
	}
	if span := pts[len(pts)-1].at.Sub(pts[0].at); span < minSoakSpan {
		return 0, fmt.Sprintf("needs GC cycles spread over at least %v, got %v (lengthen execution.duration)", minSoakSpan, span.Round(time.Second))
	}
	var n, sx, sy, sxx, sxy float64
	for _, p := range pts {
		x, y := p.at.Sub(pts[0].at).Minutes(), float64(p.heap)/1e6
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0, "every GC cycle fell in the same instant"
	}
	return (n*sxy - sx*sy) / den, ""
}
