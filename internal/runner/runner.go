package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/scenarios"
)

// Sentinel errors of a run.
var (
	// ErrInterrupted: the run was cancelled (Ctrl-C); partial results were written.
	ErrInterrupted = errors.New("interrupted")
	// ErrScenariosFailed: at least one scenario failed.
	ErrScenariosFailed = errors.New("scenarios failed")
	// ErrResultsDir: the results directory cannot be written.
	ErrResultsDir = errors.New("results directory is not writable")
	// ErrNothingToRun: the plan is empty.
	ErrNothingToRun = errors.New("nothing to run")
)

// Options configure a Runner.
type Options struct {
	Config     *config.Config
	Driver     cluster.Driver
	ResultsDir string
	Tool       metrics.Tool
	Progress   Progress
	Log        *slog.Logger
	// Describe is a one-line description of the target, for the results file.
	Describe string
	// Started names the run (results file and run folder); now if zero.
	Started time.Time
}

// Runner runs one plan.
type Runner struct {
	opt   Options
	specs []scenarios.Spec
	sizes []int
}

// New plans the run: it expands the scenarios and checks that the results
// directory can be written. Errors here are the user's to fix (exit 2).
func New(opt Options) (*Runner, error) {
	cfg := opt.Config
	specs, err := scenarios.Filter(scenarios.All(cfg), cfg.Execution.Scenarios)
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("%w: the enabled categories (%s) have no scenarios in this odbench; categories with scenarios: %s",
			ErrNothingToRun, strings.Join(cfg.EnabledCategories(), ", "), strings.Join(scenarios.Implemented(), ", "))
	}
	if err := checkWritable(opt.ResultsDir); err != nil {
		return nil, err
	}
	if opt.Progress == nil {
		opt.Progress = nopProgress{}
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	sizes := cfg.System.ClusterSizes
	if cfg.Cluster.Driver == "external" {
		sizes = []int{len(cfg.Cluster.Targets)}
	}
	return &Runner{opt: opt, specs: specs, sizes: sizes}, nil
}

// Specs returns the planned scenarios.
func (r *Runner) Specs() []scenarios.Spec { return r.specs }

// Sizes returns the planned cluster sizes.
func (r *Runner) Sizes() []int { return r.sizes }

// Total is the number of scenario runs planned.
func (r *Runner) Total() int { return len(r.sizes) * len(r.specs) * r.opt.Config.Execution.Count }

// RunDir is the folder beside the results file that holds a run's other
// files (node logs, goroutine dumps).
func RunDir(resultsDir string, started time.Time) string {
	return filepath.Join(resultsDir, strings.TrimSuffix(metrics.ResultsFileName(started), ".json"))
}

func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrResultsDir, err)
	}
	f, err := os.CreateTemp(dir, ".odbench-probe-*")
	if err != nil {
		return fmt.Errorf("%w: %v", ErrResultsDir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// Run executes the plan and writes the results file, whose path it returns
// (empty if nothing could be written).
func (r *Runner) Run(ctx context.Context) (*metrics.Run, string, error) {
	cfg := r.opt.Config
	run := &metrics.Run{
		SchemaVersion: metrics.SchemaVersion,
		Tool:          r.opt.Tool,
		Host:          metrics.CollectHost(ctx),
		Config:        cfg,
		Target:        metrics.Target{Driver: r.opt.Driver.Name(), Description: r.opt.Describe},
		Status:        metrics.RunComplete,
		StartedAt:     r.opt.Started.UTC(),
	}
	if r.opt.Started.IsZero() {
		run.StartedAt = time.Now().UTC()
	}
	if v, ok := r.opt.Driver.(cluster.Versioner); ok {
		if version, err := v.Version(ctx); err != nil {
			run.Target.VersionReason = err.Error()
		} else {
			run.Target.Version = version
		}
	} else {
		run.Target.VersionReason = "the " + r.opt.Driver.Name() + " driver cannot tell the nodes' build"
	}
	run.Seed = cfg.Execution.Seed
	for run.Seed == 0 {
		run.Seed = rand.Uint64()
	}
	runDir := RunDir(r.opt.ResultsDir, run.StartedAt)
	r.opt.Progress.Planned(r.Total(), cfg.Execution.WarmupDuration+cfg.Execution.Duration)

	var startErr error
	failed := false
	done := 0
sizes:
	for _, size := range r.sizes {
		if ctx.Err() != nil {
			break
		}
		cl := metrics.Cluster{Size: size}
		r.opt.Progress.ClusterStarting(size)
		startCtx, cancel := context.WithTimeout(ctx, cfg.Cluster.StartTimeout)
		began := time.Now()
		c, err := r.opt.Driver.Start(startCtx, size)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			cl.Error = err.Error()
			run.Clusters = append(run.Clusters, cl)
			r.opt.Progress.ClusterFailed(size, err)
			startErr = errors.Join(startErr, fmt.Errorf("cluster of %d: %w", size, err))
			done += len(r.specs) * cfg.Execution.Count
			if cfg.Execution.FailFast {
				break
			}
			continue
		}
		cl.StartupMs = time.Since(began).Milliseconds()
		for _, n := range c.Nodes() {
			cl.Nodes = append(cl.Nodes, metrics.NodeInfo{ID: n.ID, URL: n.API, PID: n.PID})
		}
		if d, ok := c.(cluster.Describer); ok {
			cl.Settings = d.Settings()
		}
		r.opt.Progress.ClusterReady(size, time.Since(began), c.Nodes())

		stopCluster := func() {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := c.Stop(stopCtx); err != nil {
				run.Warnings = append(run.Warnings, fmt.Sprintf("stopping the cluster of %d: %v", size, err))
			}
		}
		for rep := 1; rep <= cfg.Execution.Count; rep++ {
			for _, spec := range r.specs {
				if ctx.Err() != nil {
					cl.Scenarios = append(cl.Scenarios, interrupted(spec, rep))
					continue
				}
				done++
				r.opt.Progress.ScenarioStarted(done, size, spec.Name, rep)
				res := r.runOne(ctx, spec, c, size, rep, runDir, metrics.ScenarioSeed(run.Seed, size, spec.Name, rep))
				cl.Scenarios = append(cl.Scenarios, res)
				r.opt.Progress.ScenarioDone(done, size, res)
				if res.Status == metrics.StatusFailed && ctx.Err() == nil {
					failed = true
					if cfg.Execution.FailFast {
						run.Clusters = append(run.Clusters, cl)
						stopCluster()
						break sizes
					}
				}
			}
		}
		run.Clusters = append(run.Clusters, cl)
		stopCluster()
	}

	if ctx.Err() != nil {
		run.Status = metrics.RunInterrupted
	}
	run.EndedAt = time.Now().UTC()
	run.Summary = metrics.SummaryOf(run)
	path := filepath.Join(r.opt.ResultsDir, metrics.ResultsFileName(run.StartedAt))
	if err := metrics.WriteRun(path, run); err != nil {
		return run, "", fmt.Errorf("%w: writing results: %v", ErrResultsDir, err)
	}
	switch {
	case ctx.Err() != nil:
		return run, path, ErrInterrupted
	case startErr != nil:
		return run, path, startErr
	case failed:
		return run, path, fmt.Errorf("%w: %d of %d", ErrScenariosFailed, run.Summary.Failed, run.Summary.Scenarios)
	}
	return run, path, nil
}

func interrupted(spec scenarios.Spec, rep int) metrics.Scenario {
	return metrics.Scenario{Name: spec.Name, Category: spec.Category, Repetition: rep, Params: spec.Params,
		Status: metrics.StatusSkipped, Reason: "the run was interrupted before this scenario"}
}

// runOne runs one scenario and always returns its result.
func (r *Runner) runOne(ctx context.Context, spec scenarios.Spec, c cluster.Cluster, size, rep int, runDir string, seed uint64) (res metrics.Scenario) {
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
		return skip(fmt.Sprintf("the %s driver cannot %v nodes", r.opt.Driver.Name(), missing))
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
