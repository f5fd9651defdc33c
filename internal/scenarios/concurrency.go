package scenarios

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// concurrencyScenarios: a weighted mix of operations in one run, the same
// write at every concurrency level (contention, with the knee), an
// open-loop step ramp to the maximum sustainable rate (stress), and the
// mix under a watchdog that dumps every node's goroutines when an
// operation hangs (deadlock detection).
func concurrencyScenarios(cfg *config.Config) []Spec {
	w := cfg.Execution.ConcurrentWorkers
	return []Spec{
		{Name: fmt.Sprintf("concurrency/mixed/clients=%d", w), Params: mixParams(cfg, w),
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runMixed(ctx, env, c, w, false) }},
		{Name: "concurrency/contention/op=kv_write", Params: map[string]string{"levels": fmt.Sprint(cfg.System.ConcurrencyLevels)},
			Run: runContention},
		{Name: "concurrency/stress/op=kv_write", Params: map[string]string{
			"start_rate": fmt.Sprint(cfg.Concurrency.StepStartRate), "increment": fmt.Sprint(cfg.Concurrency.StepIncrement),
			"step": cfg.Concurrency.StepDuration.String(), "max_steps": itoa(cfg.Concurrency.MaxSteps)},
			Timeout: cfg.Execution.WarmupDuration + time.Duration(cfg.Concurrency.MaxSteps)*(cfg.Concurrency.StepDuration+cfg.API.RequestTimeout) + time.Minute,
			Run:     runStress},
		{Name: fmt.Sprintf("concurrency/deadlock/clients=%d", w), Params: mixParams(cfg, w),
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runMixed(ctx, env, c, w, true) }},
	}
}

func mixParams(cfg *config.Config, clients int) map[string]string {
	p := map[string]string{"clients": itoa(clients)}
	for op, wt := range cfg.Concurrency.Mix {
		p["weight_"+op] = itoa(wt)
	}
	return p
}

// mixOps builds the weighted operations of the mixed workload and returns
// a cleanup for the keys and the model they use.
func mixOps(ctx context.Context, env *Env, c cluster.Cluster, client *load.FastClient) ([]load.Operation, func(), error) {
	api := env.API(client)
	mix := env.Config.Concurrency.Mix
	var cleanups []func()
	cleanup := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	nodes := bases(c)
	var next atomic.Uint64
	pick := func() string { return nodes[int(next.Add(1)-1)%len(nodes)] }
	var ops []load.Operation
	if mix["kv_read"] > 0 || mix["kv_write"] > 0 {
		kv, err := openKV(ctx, env, c, min(env.Config.Consensus.KeySpace, 200))
		if err != nil {
			return nil, nil, err
		}
		cleanups = append(cleanups, kv.Close)
		if err := kv.fill(); err != nil { // reads need keys that exist
			cleanup()
			return nil, nil, err
		}
		keys := kv.keys
		if w := mix["kv_read"]; w > 0 {
			reads, _ := env.KV(client)
			var r atomic.Uint64
			ops = append(ops, load.Operation{Name: "kv_read", Weight: w, Do: func(ctx context.Context) error {
				_, _, found, err := reads.Get(ctx, pick(), keys.key(int(r.Add(1))%keys.size), false)
				if err == nil && !found {
					return errKeyMissing
				}
				return err
			}})
		}
		if w := mix["kv_write"]; w > 0 {
			op := kv.putOp("kv_write", client, bytes.Repeat([]byte("m"), 128))
			op.Weight = w
			ops = append(ops, op)
		}
	}
	if w := mix["api_read"]; w > 0 {
		op, err := api.Op("api_read", "nodes_list", func() (string, target.Vars) { return pick(), target.Vars{} })
		if err != nil {
			cleanup()
			return nil, nil, Skip("the mix's api_read: %v", err)
		}
		op.Weight = w
		ops = append(ops, op)
	}
	if w := mix["generate"]; w > 0 {
		if env.Target.Inference == nil {
			cleanup()
			return nil, nil, Skip("the mix's generate: the %s profile has no inference section", env.Target.Name)
		}
		removeModel, err := ensureModel(ctx, env, api, c)
		if err != nil {
			cleanup()
			return nil, nil, err
		}
		cleanups = append(cleanups, removeModel)
		t := inferTargetOf(env, false)
		path, body := t.request(false)
		ops = append(ops, load.Operation{Name: "generate", Weight: w, Do: func(ctx context.Context) error {
			return client.Send(ctx, "POST", pick()+path, t.headers(), body, t.judgeWhole)
		}})
	}
	return ops, cleanup, nil
}

// runMixed runs the weighted mix; with watch, a watchdog flags operations
// outstanding longer than the hang threshold.
func runMixed(ctx context.Context, env *Env, c cluster.Cluster, clients int, watch bool) error {
	timeout := env.Config.API.RequestTimeout
	hang := env.Config.Concurrency.HangThreshold
	if watch && timeout < 3*hang {
		timeout = 3 * hang // a hung request must outlive the threshold to be seen
	}
	client := load.NewFastClient(clients, timeout)
	defer client.Close()
	ops, cleanup, err := mixOps(ctx, env, c, client)
	if err != nil {
		return err
	}
	defer cleanup()
	if !watch {
		_, err = env.Closed(ctx, clients, ops...)
		return err
	}
	wd := newWatchdog(hang)
	for i := range ops {
		ops[i].Do = wd.track(ops[i].Name, ops[i].Do)
	}
	stop := wd.start(ctx, func(stuck []stuckOp) { wd.report(ctx, env, c, stuck) })
	_, err = env.Closed(ctx, clients, ops...)
	stop()
	if err != nil {
		return err
	}
	if wd.found() != "" {
		return nil // the failed no_hung_operation check fails the scenario
	}
	// fail: a hung operation is a deadlock or a lost request, a correctness bug.
	env.Check("no_hung_operation", metrics.SeverityFail, true, fmt.Sprintf("no operation was outstanding longer than %v", hang))
	return nil
}

// watchdog tracks operations in flight and reports those outstanding
// longer than the threshold, once.
type watchdog struct {
	threshold time.Duration
	seq       atomic.Uint64
	inflight  sync.Map // uint64 -> stuckOp
	mu        sync.Mutex
	finding   string
}

type stuckOp struct {
	name  string
	since time.Time
}

func newWatchdog(threshold time.Duration) *watchdog { return &watchdog{threshold: threshold} }

func (w *watchdog) track(name string, do func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		id := w.seq.Add(1)
		w.inflight.Store(id, stuckOp{name: name, since: time.Now()})
		defer w.inflight.Delete(id)
		return do(ctx)
	}
}

// start checks four times per threshold until stop is called; onStuck runs
// (once) with the operations over the threshold.
func (w *watchdog) start(ctx context.Context, onStuck func([]stuckOp)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(w.threshold / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				var stuck []stuckOp
				w.inflight.Range(func(_, v any) bool {
					if op := v.(stuckOp); now.Sub(op.since) > w.threshold {
						stuck = append(stuck, op)
					}
					return true
				})
				if len(stuck) > 0 {
					onStuck(stuck)
					return
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (w *watchdog) found() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.finding
}

// report names the stuck operations, saves every node's goroutine dump in
// the scenario's folder and records the finding.
func (w *watchdog) report(ctx context.Context, env *Env, c cluster.Cluster, stuck []stuckOp) {
	sort.Slice(stuck, func(i, j int) bool { return stuck[i].since.Before(stuck[j].since) })
	counts := map[string]int{}
	for _, s := range stuck {
		counts[s.name]++
	}
	var names []string
	for n, k := range counts {
		names = append(names, fmt.Sprintf("%s (%d)", n, k))
	}
	sort.Strings(names)
	oldest := time.Since(stuck[0].since).Round(time.Millisecond)
	dumps := dumpGoroutines(ctx, env, c)
	finding := fmt.Sprintf("possible deadlock: %d operation(s) outstanding longer than %v: %s; the oldest, %s, for %v; goroutine dumps: %s",
		len(stuck), w.threshold, strings.Join(names, ", "), stuck[0].name, oldest, dumps)
	w.mu.Lock()
	w.finding = finding
	w.mu.Unlock()
	env.Event("possible_deadlock", "", finding)
	env.Check("no_hung_operation", metrics.SeverityFail, false, finding)
}

// dumpGoroutines saves every node's goroutine dump (the profile's
// goroutines route: /debug/pprof/goroutine?debug=2 of a Go target) into
// env.Dir and says where (or why not).
func dumpGoroutines(ctx context.Context, env *Env, c cluster.Cluster) string {
	if env.Dir == "" {
		return "not saved (no folder for this run)"
	}
	dir := filepath.Join(env.Dir, "goroutines-"+strings.NewReplacer("/", "_", "=", "-").Replace(env.res.Name))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "not saved: " + err.Error()
	}
	client := load.NewFastClient(2, 10*time.Second)
	defer client.Close()
	api := env.API(client)
	if !api.Has("goroutines") {
		return "not saved: the " + env.Target.Name + " profile has no goroutines route"
	}
	var saved, failed []string
	for _, n := range c.Nodes() {
		err := api.Call(ctx, n.API, "goroutines", target.Vars{}, func(body []byte) error {
			return os.WriteFile(filepath.Join(dir, n.ID+".txt"), body, 0o644)
		})
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", n.ID, err))
			continue
		}
		saved = append(saved, n.ID)
	}
	out := fmt.Sprintf("%s for %s", dir, strings.Join(saved, ", "))
	if len(failed) > 0 {
		out += "; none from " + strings.Join(failed, ", ")
	}
	return out
}

// runContention writes at every configured concurrency level and records
// throughput and p99 against clients, and the knee: the first level after
// which throughput grows less than 10% while p99 grows more than 50%.
func runContention(ctx context.Context, env *Env, c cluster.Cluster) error {
	if why := env.RateLimited(); why != "" {
		return Skip("%s", why)
	}
	kv, err := openKV(ctx, env, c, env.Config.Consensus.KeySpace)
	if err != nil {
		return err
	}
	defer kv.Close()
	levels := append([]int(nil), env.Config.System.ConcurrencyLevels...)
	sort.Ints(levels)
	per := max(env.Duration/time.Duration(len(levels)), time.Second)
	value := bytes.Repeat([]byte("c"), 128)
	type point struct {
		clients int
		tput    float64
		p99     float64
	}
	var pts []point
	for i, clients := range levels {
		client := env.FastClient(clients)
		// Each level warms up at its own concurrency (the first for the
		// configured warm-up), so its window starts in its steady state.
		warm := env.Warmup
		if i > 0 {
			warm = min(env.Warmup, per/4)
		}
		res, err := load.RunClosed(ctx, load.Closed{Workers: clients, Warmup: warm, Duration: per, Drain: env.Config.API.RequestTimeout,
			Seed: env.Seed + uint64(i)}, kv.putOp(fmt.Sprintf("kv_write/clients=%d", clients), client, value))
		client.Close()
		if res != nil {
			env.AddResult(res)
		}
		if err != nil {
			return err
		}
		op := res.Operations()[0]
		pts = append(pts, point{clients, op.ThroughputOpsPerSec, float64(op.Latency.P99Ns) / 1e6})
		env.Scalar(fmt.Sprintf("throughput_at_clients_%d", clients), op.ThroughputOpsPerSec, "ops/s")
		env.Scalar(fmt.Sprintf("p99_at_clients_%d", clients), float64(op.Latency.P99Ns)/1e6, "ms")
	}
	var tput, p99 []float64
	for _, p := range pts {
		tput, p99 = append(tput, p.tput), append(p99, p.p99)
	}
	if k, ok := metrics.Knee(levels, tput, p99); ok {
		env.Scalar("knee_clients", float64(k), "clients")
		return nil
	}
	env.Absent("knee_clients", "clients", fmt.Sprintf("throughput kept growing by 10%% or p99 by less than 50%% at every step of %v", levels))
	return nil
}

// runStress ramps the open-loop write rate until the error rate exceeds
// 1% or p99 exceeds targets.latency_p99, and reports the last rate that held.
func runStress(ctx context.Context, env *Env, c cluster.Cluster) error {
	if why := env.RateLimited(); why != "" {
		return Skip("%s", why)
	}
	kv, err := openKV(ctx, env, c, env.Config.Consensus.KeySpace)
	if err != nil {
		return err
	}
	defer kv.Close()
	cc := env.Config.Concurrency
	client := env.FastClient(env.Config.API.MaxInFlight)
	defer client.Close()
	return env.Ramp(ctx, load.Step{StartRate: cc.StepStartRate, Increment: cc.StepIncrement, StepDuration: cc.StepDuration,
		MaxSteps: cc.MaxSteps, MaxErrorRate: 0.01, MaxP99: env.Config.Targets.LatencyP99,
		MaxInFlight: env.Config.API.MaxInFlight, Poisson: env.Config.API.Arrival == "poisson"},
		kv.putOp("kv_write", client, bytes.Repeat([]byte("s"), 128)))
}
