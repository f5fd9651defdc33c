package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/scenarios"
	"github.com/odbench/odbench/internal/target"
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
	// ErrNothingMeasured: every scenario planned was skipped.
	ErrNothingMeasured = errors.New("nothing was measured")
)

// Options configure a Runner.
type Options struct {
	Config *config.Config
	// Target is the profile of the system measured (nil: the reference
	// node's).
	Target     *target.Profile
	Driver     cluster.Driver
	ResultsDir string
	Tool       metrics.Tool
	Progress   Progress
	Log        *slog.Logger
	// Describe is a one-line description of the target, for the results file.
	Describe string
	// Started names the run (results file and run folder); now if zero.
	Started time.Time
	// Baseline, when set, makes the run an interleaved A/B run: every
	// repetition runs the plan on a cluster of Baseline's driver and on one
	// of Driver, alternating A B B A, so both builds see the same machine.
	Baseline *Side
}

// Side is one side of an A/B run: a driver of the build it measures.
type Side struct {
	Driver   cluster.Driver
	Describe string
}

// Sides of an A/B run, as results clusters name them.
const (
	SideBaseline = metrics.SideBaseline
	SideCurrent  = metrics.SideCurrent
)

// Where names the cluster a scenario runs on: its size and, in an A/B run,
// its side.
type Where struct {
	Size int
	Side string
}

func (w Where) String() string {
	if w.Side == "" {
		return fmt.Sprintf("size %d", w.Size)
	}
	return fmt.Sprintf("size %d %s", w.Size, w.Side)
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
		hint := ""
		if slices.Contains(cfg.EnabledCategories(), "custom") && len(cfg.Scenarios.Custom) == 0 {
			hint = " (custom scenarios are declared in scenarios.custom; configs/examples has three)"
		}
		return nil, fmt.Errorf("%w: the enabled categories (%s) have no scenarios in this odbench%s; categories with scenarios: %s",
			ErrNothingToRun, strings.Join(cfg.EnabledCategories(), ", "), hint, strings.Join(scenarios.Implemented(), ", "))
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
	if opt.Target == nil {
		p, err := target.Load("odbench-node")
		if err != nil {
			return nil, err
		}
		opt.Target = p
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
func (r *Runner) Total() int {
	n := len(r.sizes) * len(r.specs) * r.opt.Config.Execution.Count
	if r.opt.Baseline != nil {
		n *= 2
	}
	return n
}

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
		Target:        describeTarget(ctx, r.opt.Driver, r.opt.Describe),
		Status:        metrics.RunComplete,
		StartedAt:     r.opt.Started.UTC(),
	}
	if r.opt.Started.IsZero() {
		run.StartedAt = time.Now().UTC()
	}
	if b := r.opt.Baseline; b != nil {
		t := describeTarget(ctx, b.Driver, b.Describe)
		run.Baseline = &t
	}
	run.Seed = cfg.Execution.Seed
	for run.Seed == 0 {
		run.Seed = rand.Uint64()
	}
	r.opt.Progress.Planned(r.Total(), cfg.Execution.WarmupDuration+cfg.Execution.Duration)

	st := &runState{run: run, runDir: RunDir(r.opt.ResultsDir, run.StartedAt), seed: run.Seed}
	if sh := cfg.Shard; sh.Sharded() {
		// Each shard draws its own arrivals, even from one --seed.
		st.seed = metrics.ScenarioSeed(run.Seed, sh.Count, "shard", sh.Index)
		start, _ := sh.Start() // validated
		st.clock = start
		run.Shard = &metrics.ShardInfo{Index: sh.Index, Count: sh.Count, PlanHash: planHash(cfg, r.specs, r.sizes), StartAt: start,
			LateMs: float64(sh.Late(time.Now()).Microseconds()) / 1000}
	}
sizes:
	for _, size := range r.sizes {
		for _, plan := range r.plans(size) {
			if ctx.Err() != nil {
				break sizes
			}
			if stop := r.runCluster(ctx, st, plan); stop {
				break sizes
			}
		}
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
	// A cluster that could not be started or was lost, and scenarios that
	// failed, are both said (the CLI's exit code picks the first).
	var failed error
	if st.failed {
		failed = fmt.Errorf("%w: %d of %d", ErrScenariosFailed, run.Summary.Failed, run.Summary.Scenarios)
	}
	if ctx.Err() != nil {
		return run, path, ErrInterrupted
	}
	if st.startErr == nil && failed == nil {
		failed = NothingMeasured(run)
	}
	return run, path, errors.Join(st.startErr, failed)
}

// NothingMeasured returns ErrNothingMeasured, with the first skip's
// reason, when the run planned scenarios and skipped every one; else nil.
func NothingMeasured(run *metrics.Run) error {
	s := run.Summary
	if s.Scenarios == 0 || s.Skipped < s.Scenarios {
		return nil
	}
	for _, c := range run.Clusters {
		for _, sc := range c.Scenarios {
			if sc.Reason != "" {
				return fmt.Errorf("%w: all %d scenario runs were skipped, the first because %s", ErrNothingMeasured, s.Scenarios, sc.Reason)
			}
		}
	}
	return fmt.Errorf("%w: all %d scenario runs were skipped", ErrNothingMeasured, s.Scenarios)
}

// probe asks the target which route families it serves and says up front
// which scenarios will be skipped for it.
func (r *Runner) probe(ctx context.Context, c cluster.Cluster, label string) scenarios.Capabilities {
	caps := scenarios.Probe(ctx, c, r.opt.Config, r.opt.Target)
	for _, f := range caps.Families() {
		var names []string
		for _, spec := range r.specs {
			if slices.Contains(spec.Routes, f) {
				names = append(names, spec.Name)
			}
		}
		if len(names) > 0 {
			r.opt.Progress.Note(fmt.Sprintf("the %s does not serve %s (%s): skipping %d scenario(s): %s",
				label, f, caps[f], len(names), strings.Join(names, ", ")))
		}
	}
	return caps
}

// skipped is a scenario that did not run, and why.
func skipped(spec scenarios.Spec, rep int, reason string) metrics.Scenario {
	return metrics.Scenario{Name: spec.Name, Category: spec.Category, Repetition: rep, Params: spec.Params,
		Status: metrics.StatusSkipped, Reason: reason}
}

// runState is what a run accumulates across its clusters.
type runState struct {
	run      *metrics.Run
	runDir   string
	seed     uint64    // the scenarios' seeds derive from it (run.Seed, mixed with the shard)
	clock    time.Time // the next scenario's slot on the shards' shared clock; zero: none
	done     int       // scenario runs begun or accounted for
	failed   bool
	startErr error
}

// slot returns the instant spec starts at on the shards' shared clock
// (zero without shard.start_at) and moves the clock past its slot: its
// planned length and shard.slack. Every shard walks the same plan, so
// each scenario starts at the same instant on all of them; one that ran
// long on a shard starts the next late there, which merge reports.
func (st *runState) slot(spec scenarios.Spec, cfg *config.Config) time.Time {
	if st.clock.IsZero() {
		return time.Time{}
	}
	at := st.clock
	st.clock = st.clock.Add(spec.PlannedLength(cfg) + cfg.Shard.Slack)
	return at
}

// runCluster starts one cluster, runs the plan's repetitions of every
// scenario on it and stops it (deferred, so a panic below still stops it).
// It reports whether the run must stop (--fail-fast).
func (r *Runner) runCluster(ctx context.Context, st *runState, plan clusterPlan) (stop bool) {
	cfg := r.opt.Config
	size := plan.where.Size
	cl := metrics.Cluster{Size: size, Side: plan.where.Side}
	defer func() { st.run.Clusters = append(st.run.Clusters, cl) }()
	label := "cluster of " + fmt.Sprint(size)
	if plan.where.Side != "" {
		label += " (" + plan.where.Side + ")"
	}
	r.opt.Progress.ClusterStarting(label)
	startCtx, cancel := context.WithTimeout(ctx, cfg.Cluster.StartTimeout)
	began := time.Now()
	c, err := plan.driver.Start(startCtx, size)
	cancel()
	if errors.Is(err, cluster.ErrNotFormed) && c != nil {
		if cfg.Cluster.AllowUnformed {
			// Measured anyway, and marked so in every output.
			cl.Unformed = err.Error()
			st.run.Warnings = append(st.run.Warnings, fmt.Sprintf("%s was measured anyway (--allow-unformed): %v", label, err))
			r.opt.Progress.ClusterFailed(label+" (measured anyway, --allow-unformed)", err)
			err = nil
		} else {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			_ = c.Stop(stopCtx)
			cancel()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return true
		}
		cl.Error = err.Error()
		r.opt.Progress.ClusterFailed(label, err)
		st.startErr = errors.Join(st.startErr, fmt.Errorf("%s: %w", label, err))
		for _, rep := range plan.reps {
			for _, spec := range r.specs {
				cl.Scenarios = append(cl.Scenarios, skipped(spec, rep, fmt.Sprintf("the %s was not run: %v", label, err)))
			}
		}
		st.done += len(r.specs) * len(plan.reps)
		return cfg.Execution.FailFast
	}
	stopCluster := func(c cluster.Cluster) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := c.Stop(stopCtx); err != nil {
			st.run.Warnings = append(st.run.Warnings, fmt.Sprintf("stopping the %s: %v", label, err))
		}
	}
	defer func() { stopCluster(c) }() // c is replaced when a node's death makes the runner start the cluster again
	cl.StartupMs = time.Since(began).Milliseconds()
	for _, n := range c.Nodes() {
		cl.Nodes = append(cl.Nodes, metrics.NodeInfo{ID: n.ID, URL: n.API, PID: n.PID})
	}
	if d, ok := c.(cluster.Describer); ok {
		cl.Settings = d.Settings()
	}
	r.opt.Progress.ClusterReady(label, time.Since(began), c.Nodes())
	caps := r.probe(ctx, c, label)

	var gone string                 // why the remaining scenarios cannot run on this cluster
	var pending []metrics.NodeDeath // deaths the cluster must be started again for
	var unsettled string            // why the cluster must be started again after the last scenario
	for _, rep := range plan.reps {
		for _, spec := range r.specs {
			switch {
			case ctx.Err() != nil:
				cl.Scenarios = append(cl.Scenarios, interrupted(spec, rep))
				continue
			case gone == "" && (len(pending) > 0 || unsettled != ""):
				// A node died, or the last scenario left the cluster
				// unhealthy: start a fresh one before the next scenario.
				why := unsettled
				if len(pending) > 0 {
					why = deathsWhy(pending)
				}
				next, err := r.restart(ctx, plan, label, c, stopCluster, why)
				pending, unsettled = nil, ""
				if err != nil {
					gone = err.Error()
					cl.Error = gone
					st.startErr = errors.Join(st.startErr, fmt.Errorf("%s: %w", label, err))
					if cfg.Execution.FailFast {
						return true
					}
				} else {
					c = next
					cl.Restarts++
					caps = r.probe(ctx, c, label)
				}
			}
			if gone != "" {
				cl.Scenarios = append(cl.Scenarios, skipped(spec, rep, gone))
				st.done++
				continue
			}
			st.done++
			r.opt.Progress.ScenarioStarted(st.done, plan.where, spec.Name, rep)
			res := r.runOne(ctx, spec, c, caps, plan.driver, size, rep, st.runDir, metrics.ScenarioSeed(st.seed, size, spec.Name, rep), st.slot(spec, cfg))
			if cl.Unformed != "" {
				// First: it qualifies every number of the scenario.
				res.Warnings = append([]string{"measured on a cluster that did not form (--allow-unformed): " + cl.Unformed}, res.Warnings...)
			}
			cl.Scenarios = append(cl.Scenarios, res)
			r.opt.Progress.ScenarioDone(st.done, plan.where, res)
			if res.Status == metrics.StatusFailed && ctx.Err() == nil {
				st.failed = true
				if cfg.Execution.FailFast {
					return true
				}
			}
			if ctx.Err() != nil {
				continue
			}
			pending = append(pending, res.NodeDeaths...)
			if w, ok := c.(cluster.Watcher); ok { // deaths after the scenario, during its cleanup
				for _, d := range w.Deaths() {
					pending = append(pending, metrics.NodeDeath{Node: d.Node, State: d.State, Fatal: d.Fatal, Log: d.Log})
				}
			}
			// A cluster measured unformed never settled to begin with.
			if len(pending) == 0 && res.Status != metrics.StatusSkipped && cl.Unformed == "" {
				if err := r.settle(ctx, c); err != nil && ctx.Err() == nil {
					// The scenario that left the cluster unhealthy fails,
					// not the ones after it: they get a fresh cluster.
					last := &cl.Scenarios[len(cl.Scenarios)-1]
					msg := fmt.Sprintf("left the cluster unhealthy: %v, %v after it ended (cluster.settle_timeout)", err, cfg.Cluster.SettleTimeout)
					if last.Status == metrics.StatusOK {
						last.Status, last.Error = metrics.StatusFailed, msg
					} else {
						last.Error += "; " + msg
					}
					st.failed = true
					unsettled = spec.Name + " " + msg
					r.opt.Progress.Note(fmt.Sprintf("%s: %s %s", label, spec.Name, msg))
					if cfg.Execution.FailFast {
						return true
					}
				}
			}
			// A node of a cluster odbench did not start is only seen to
			// answer or not.
			if p, ok := c.(cluster.Prober); ok {
				if errs := p.Probe(ctx); len(errs) > 0 {
					for _, e := range errs {
						cl.Lost = append(cl.Lost, e.Error())
					}
					gone = errors.Join(errs...).Error()
					st.startErr = errors.Join(st.startErr, fmt.Errorf("%s: %w: %s", label, cluster.ErrStart, gone))
					r.opt.Progress.ClusterFailed(label, errors.Join(errs...))
				}
			}
		}
	}
	return false
}
