package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
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

// runOne runs one scenario and always returns its result.
func (r *Runner) runOne(ctx context.Context, spec scenarios.Spec, c cluster.Cluster, driver cluster.Driver, size, rep int, runDir string, seed uint64) (res metrics.Scenario) {
	cfg := r.opt.Config
	began := time.Now()
	skip := func(reason string) metrics.Scenario {
		return metrics.Scenario{Name: spec.Name, Category: spec.Category, Repetition: rep, Params: spec.Params, Seed: seed,
			Status: metrics.StatusSkipped, Reason: reason, StartedAt: began.UTC(), EndedAt: began.UTC()}
	}
	if size < spec.MinNodes {
		return skip(fmt.Sprintf("needs at least %d nodes; this cluster has %d", spec.MinNodes, size))
	}
	if missing := cluster.Missing(c, spec.Needs); len(missing) > 0 {
		return skip(fmt.Sprintf("the %s driver cannot %v nodes", driver.Name(), missing))
	}
	timeout := spec.Timeout
	if timeout == 0 {
		timeout = cfg.Execution.ScenarioTimeout
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	procs := []metrics.Proc{{ID: "odbench", PID: os.Getpid()}}
	for _, n := range c.Nodes() {
		if n.PID > 0 {
			procs = append(procs, metrics.Proc{ID: n.ID, PID: n.PID})
		}
	}
	sampler := metrics.StartSampler(sctx, sampleInterval(cfg), procs)
	env := scenarios.NewEnv(cfg, r.opt.Log.With("scenario", spec.Name, "size", size), spec,
		filepath.Join(runDir, fmt.Sprintf("size-%d", size)), seed)
	err := safeRun(sctx, spec, env, c)
	sampler.Stop()

	res, from, to := env.Result()
	res.Repetition = rep
	res.StartedAt, res.EndedAt = began.UTC(), time.Now().UTC()
	if !from.IsZero() {
		res.Resources = sampler.Summarize(from, to)
	}
	res.Status = metrics.StatusOK
	var skipErr *scenarios.SkipError
	switch {
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
		spec.Finish(&res)
	}
	judge(&res, cfg)
	return res
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
func judge(res *metrics.Scenario, cfg *config.Config) {
	if r := res.Resources; r != nil && r.Host != nil && r.Host.Samples > 0 && r.Host.CPUPercentMean > cfg.Execution.HostCPUWarnPercent {
		res.HostBound = true
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"host CPU averaged %.0f%% (max %.0f%%) during the measurement, above %.0f%%: the load machine, not the target, may have been the bottleneck",
			r.Host.CPUPercentMean, r.Host.CPUPercentMax, cfg.Execution.HostCPUWarnPercent))
	}
	if r := res.Resources; r != nil && r.Host != nil && r.Host.StealPercentMean != nil && *r.Host.StealPercentMean > cfg.Execution.HostStealWarnPercent {
		res.HostBound = true
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"the hypervisor gave %.0f%% of this machine's CPU time (max %.0f%%) to other guests during the measurement (steal, above %.0f%%): timings describe its neighbours as much as the target",
			*r.Host.StealPercentMean, *r.Host.StealPercentMax, cfg.Execution.HostStealWarnPercent))
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
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%d of %d requests were rate-limited (HTTP 429): the target limits requests per client, so these are not throughput; "+
				"ollama-distributed allows 100 requests per minute per client IP", limited, ok+errs))
	}
	if unfinished > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"%d request(s) were still running %v after the measured window and were cut off (unfinished: neither throughput nor errors)",
			unfinished, cfg.API.RequestTimeout))
	}
	metrics.Judge(res, cfg.Targets.ErrorRatePercent)
}
