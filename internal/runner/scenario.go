package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/scenarios"
)

func interrupted(spec scenarios.Spec, rep int) metrics.Scenario {
	return metrics.Scenario{Name: spec.Name, Category: spec.Category, Repetition: rep, Params: spec.Params,
		Status: metrics.StatusSkipped, Reason: "the run was interrupted before this scenario"}
}

// runOne runs one scenario and always returns its result. slot, when set,
// is the instant of its load on the shards' shared clock.
func (r *Runner) runOne(ctx context.Context, spec scenarios.Spec, c cluster.Cluster, caps scenarios.Capabilities, driver cluster.Driver,
	size, rep int, runDir string, seed uint64, slot time.Time) (res metrics.Scenario) {
	cfg := r.opt.Config
	began := time.Now()
	skip := func(reason string) metrics.Scenario {
		return metrics.Scenario{Name: spec.Name, Category: spec.Category, Repetition: rep, Params: spec.Params, Seed: seed,
			Status: metrics.StatusSkipped, Reason: reason, StartedAt: began.UTC(), EndedAt: began.UTC()}
	}
	if sh := cfg.Shard; sh.Sharded() && sh.Index != 0 && spec.Unsplittable != "" {
		return skip("runs on shard 0 only: " + spec.Unsplittable)
	}
	if size < spec.MinNodes {
		return skip(fmt.Sprintf("needs at least %d nodes; this cluster has %d", spec.MinNodes, size))
	}
	if missing := cluster.Missing(c, spec.Needs); len(missing) > 0 {
		return skip(strings.Join(missing, "; "))
	}
	if why := caps.Missing(spec); why != "" {
		return skip(why)
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = cfg.Execution.ScenarioTimeout
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// A node that dies ends the scenario at once: what it would measure
	// from then on is the death, not the target.
	watcher, _ := c.(cluster.Watcher)
	if watcher != nil {
		stopWatch := make(chan struct{})
		defer close(stopWatch)
		go func() {
			select {
			case <-watcher.DeathNotice():
				cancel()
			case <-stopWatch:
			}
		}()
	}

	procs := []metrics.Proc{{ID: "odbench", PID: os.Getpid()}}
	for _, n := range c.Nodes() {
		if n.PID > 0 {
			procs = append(procs, metrics.Proc{ID: n.ID, PID: n.PID})
		}
	}
	sampler := metrics.StartSampler(sctx, sampleInterval(cfg), procs)
	env := scenarios.NewEnv(cfg, r.opt.Log.With("scenario", spec.Name, "size", size), spec,
		filepath.Join(runDir, fmt.Sprintf("size-%d", size)), seed)
	env.Target = r.opt.Target
	env.SlotStart = slot
	err := safeRun(sctx, spec, env, c)
	sampler.Stop()

	res, from, to := env.Result()
	res.Repetition = rep
	res.StartedAt, res.EndedAt = began.UTC(), time.Now().UTC()
	if !from.IsZero() {
		res.Resources = sampler.Summarize(from, to)
	}
	var deaths []cluster.Death
	if watcher != nil {
		deaths = watcher.Deaths()
	}
	for _, d := range deaths {
		res.NodeDeaths = append(res.NodeDeaths, metrics.NodeDeath{Node: d.Node, OffsetMs: d.At.Sub(began).Milliseconds(),
			State: d.State, Fatal: d.Fatal, Log: d.Log})
	}
	res.Status = metrics.StatusOK
	var skipErr *scenarios.SkipError
	switch {
	case len(deaths) > 0:
		msgs := make([]string, len(deaths))
		for i, d := range deaths {
			msgs[i] = fmt.Sprintf("%s during %s", d, spec.Name)
		}
		res.Status, res.Error = metrics.StatusFailed, strings.Join(msgs, "\n")
	case errors.As(err, &skipErr):
		res.Status, res.Reason = metrics.StatusSkipped, skipErr.Reason
	case ctx.Err() != nil:
		res.Status, res.Error = metrics.StatusFailed, "interrupted"
	case errors.Is(sctx.Err(), context.DeadlineExceeded) && err != nil:
		res.Status, res.Error = metrics.StatusFailed, fmt.Sprintf("timed out after %v: %v", timeout, err)
	case err != nil:
		res.Status, res.Error = metrics.StatusFailed, err.Error()
	}
	if spec.Finish != nil && res.Status == metrics.StatusOK {
		if err := safeFinish(spec, &res); err != nil {
			res.Status, res.Error = metrics.StatusFailed, err.Error()
		}
	}
	limit := cfg.Cluster.RateLimit
	if limit == "" && r.opt.Target != nil {
		limit = r.opt.Target.RateLimit
	}
	judge(&res, cfg, limit)
	return res
}

// rateLimitWarning says, once per scenario, that the target rate-limited
// the load and what it said of its limit: the requests it accepted per
// minute from this client, Retry-After and the X-RateLimit-* headers.
func rateLimitWarning(res *metrics.Scenario, ok, limited, errs int64, configured string) string {
	msg := fmt.Sprintf("%d of %d requests were rate-limited (HTTP 429): the target limits requests per client, so these are not throughput", limited, ok+errs)
	if res.RateLimit == nil {
		res.RateLimit = &metrics.RateLimit{}
	}
	rl := res.RateLimit
	if minutes := float64(res.MeasuredNs) / float64(time.Minute); minutes > 0 {
		rl.AcceptedPerMin = float64(ok) / minutes
		msg += fmt.Sprintf("; it accepted %.0f requests/min from this client", rl.AcceptedPerMin)
	}
	if rl.RetryAfter != "" {
		msg += "; Retry-After: " + rl.RetryAfter
	}
	keys := make([]string, 0, len(rl.Headers))
	for k := range rl.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		msg += fmt.Sprintf("; %s: %s", k, rl.Headers[k])
	}
	if configured != "" {
		// Advice never names a setting that is already set.
		return msg + fmt.Sprintf("; the load was paced below the rate limit of %s and was still limited: the target's limit is lower, or other clients share it (set cluster.rate_limit lower)", configured)
	}
	return msg + "; set cluster.rate_limit (ollama-distributed allows 100/min per client IP) to pace the load below the limit"
}

// safeFinish runs the scenario's Finish step, turning a panic into an
// error: the cluster is still stopped and the results file still written.
func safeFinish(spec scenarios.Spec, res *metrics.Scenario) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in the finish step: %v\n%s", p, debug.Stack())
		}
	}()
	spec.Finish(res)
	return nil
}

// sampleInterval is the configured interval, shortened so that even a
// short measurement holds at least four samples (down to 100 ms): with
// none, a saturated host could not be noticed.
func sampleInterval(cfg *config.Config) time.Duration {
	iv := min(cfg.Execution.SampleInterval, cfg.Execution.Duration/4)
	return max(iv, 100*time.Millisecond)
}

// safeRun runs the scenario, turning a panic into an error with its stack
// so one broken scenario cannot end the whole run.
func safeRun(ctx context.Context, spec scenarios.Spec, env *scenarios.Env, c cluster.Cluster) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return spec.Run(ctx, env, c)
}

// judge adds the runner's own findings to a finished scenario, then sets
// its verdict (metrics.Judge): failed checks of severity fail, requests
// failing above targets.error_rate_percent, or every request failing.
func judge(res *metrics.Scenario, cfg *config.Config, rateLimit string) {
	if warnings := metrics.HostWarnings(res.Resources, cfg.Execution.HostCPUWarnPercent, cfg.Execution.HostStealWarnPercent); len(warnings) > 0 {
		res.HostBound = true
		res.Warnings = append(res.Warnings, warnings...)
	}
	var ok, errs, limited, unfinished int64
	for _, op := range res.Operations {
		if metrics.IsRequest(op) {
			ok += op.Count
			errs += op.Errors
			limited += op.RateLimited
			unfinished += op.Unfinished
		}
		if op.OutOfRange > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %d latencies fell outside the histogram's range (%v..%v) and are not in the percentiles",
				op.Name, op.OutOfRange, time.Duration(metrics.HistMinNs), time.Duration(metrics.HistMaxNs)))
		}
	}
	if limited > 0 {
		res.Warnings = append(res.Warnings, rateLimitWarning(res, ok, limited, errs, rateLimit))
	}
	if rl := res.RateLimit; rl != nil && rl.Capped != "" {
		res.Warnings = append(res.Warnings, "throughput capped by the target's rate limit, not measured: "+rl.Capped)
	}
	if unfinished > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%d request(s) were still running %v after the measured window and were cut off (unfinished: neither throughput nor errors)",
			unfinished, cfg.API.RequestTimeout))
	}
	metrics.Judge(res, cfg.Targets.ErrorRatePercent)
}
