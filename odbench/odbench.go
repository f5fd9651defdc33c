// Package odbench is odbench as a library: register scenarios written in
// Go, run a plan from Go, read, merge and compare results files, and build
// an odbench binary of one's own with the scenarios compiled in.
//
// What flows through it, in order:
//
//  1. A program calls Register with its Scenarios (before Main or a
//     Runner runs). They join the category "custom" beside the scenarios
//     a configuration declares (scenarios.custom), under custom/NAME.
//  2. Either Main runs the odbench command line (run, compare, report,
//     node, monitor, ...) with them compiled in — the program is then an
//     odbench, and the local driver starts its nodes from it — or
//     LoadConfig and NewRunner run a plan programmatically and Run returns
//     the results, as the older framework's NewBenchmarkRunner, Run and
//     GetResults did.
//  3. ReadResults, Merge and Compare work on results files as odbench
//     merge and odbench compare do.
//
// The types are the ones odbench uses inside (aliases): Env is what a
// scenario records into, with its load engine (Closed, Open), checks,
// scalars and events; Operation is one kind of request the engine sends;
// Cluster and Node are the target. This package is the stable surface;
// the packages under internal/ are not.
package odbench

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/odbench/odbench/internal/cli"
	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/report"
	"github.com/odbench/odbench/internal/runner"
	"github.com/odbench/odbench/internal/scenarios"
)

type (
	// Config is odbench's whole configuration (see configs/benchmark_config.yaml).
	Config = config.Config
	// Env is what a scenario gets: the load engine with the configured
	// warm-up and duration (Env.Closed, Env.Open), and the recorders of
	// checks, scalars, events and warnings.
	Env = scenarios.Env
	// Operation is one kind of request a load sends: a name and a Do func.
	Operation = load.Operation
	// Cluster is the running target.
	Cluster = cluster.Cluster
	// Node is one member of the target: its ID and API base URL.
	Node = cluster.Node
	// Run is a results file: every cluster's scenarios, their operations
	// with HDR histograms, checks and the verdict.
	Run = metrics.Run
	// Comparison is what Compare found: rows with their verdicts,
	// breakage, and Failures (what makes odbench compare exit 1).
	Comparison = report.Comparison
)

// Scenario is a benchmark written in Go.
type Scenario struct {
	// Name is the scenario's name under custom/ ("my_endpoint/clients=8").
	Name   string
	Params map[string]string
	// MinNodes: the scenario is skipped, saying why, on smaller clusters.
	MinNodes int
	// Run drives load through env against c and records what it saw. An
	// error fails the scenario; Skip's error skips it with the reason.
	Run func(ctx context.Context, env *Env, c Cluster) error
}

// Skip returns the error a Scenario's Run gives when it cannot run
// against the target: the scenario is recorded as skipped with the reason.
func Skip(format string, args ...any) error { return scenarios.Skip(format, args...) }

// Register adds scenarios to every run of this program, in the category
// custom. Call it before Main or a Runner's Run.
func Register(ss ...Scenario) {
	for _, s := range ss {
		if s.Name == "" || s.Run == nil {
			panic("odbench: a registered scenario needs a Name and a Run")
		}
		name := s.Name
		if !strings.HasPrefix(name, "custom/") {
			name = "custom/" + name
		}
		run := s.Run
		scenarios.Register(scenarios.Spec{Name: name, Category: "custom", Params: s.Params, MinNodes: s.MinNodes,
			Run: func(ctx context.Context, env *scenarios.Env, c cluster.Cluster) error { return run(ctx, env, c) }})
	}
}

// Main runs the odbench command line with os.Args and returns its exit
// code: a program's main is os.Exit(odbench.Main()).
func Main() int { return cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr) }

// DefaultConfig returns odbench's defaults.
func DefaultConfig() *Config {
	c := config.Default()
	return &c
}

// LoadConfig reads a configuration as odbench run does: the defaults, the
// built-in profile ("quick", "full", "ci"; "" for none), the file ("" for
// none) and the ODBENCH_* environment, validated.
func LoadConfig(profile, file string) (*Config, error) { return cli.LoadConfig(profile, file) }

// Runner runs a plan from Go.
type Runner struct {
	r       *runner.Runner
	results *Run
	path    string
}

// NewRunner prepares cfg's plan against its cluster driver, writing the
// results file into resultsDir. With the local driver, the nodes are
// started from cluster.local.binary, or from this program when that is
// empty, which then must be an odbench (see Main).
func NewRunner(cfg *Config, resultsDir string) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r, err := cli.NewRunner(cfg, resultsDir, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	return &Runner{r: r}, nil
}

// NewBenchmarkRunner is NewRunner writing into ./results: the older
// framework's name for it.
func NewBenchmarkRunner(cfg *Config) (*Runner, error) { return NewRunner(cfg, "results") }

// Run runs the plan and writes the results file. Its error says why the
// run is not clean, as odbench run's exit code does (failed scenarios, an
// unreachable target, an interruption); the results are returned anyway.
func (r *Runner) Run(ctx context.Context) (*Run, error) {
	run, path, err := r.r.Run(ctx)
	r.results, r.path = run, path
	return run, err
}

// GetResults returns the last Run's results (nil before one).
func (r *Runner) GetResults() *Run { return r.results }

// ResultsPath is the results file the last Run wrote.
func (r *Runner) ResultsPath() string { return r.path }

// ReadResults reads a results file.
func ReadResults(path string) (*Run, error) { return metrics.ReadRunFile(path) }

// WriteResults writes a results file atomically.
func WriteResults(path string, run *Run) error { return metrics.WriteRun(path, run) }

// Merge adds runs made at the same time from several load machines (or
// the shards of one plan) into one, as odbench merge does; names label
// them in messages.
func Merge(runs []*Run, names []string) (*Run, error) {
	return metrics.Merge(runs, names, metrics.MergeOptions{MaxSkew: config.Default().Merge.MaxSkew})
}

// Compare judges current against baseline with cfg's regression rules
// (regression.*), as odbench compare does: Comparison.Failures() > 0 is
// its exit 1.
func Compare(baseline, current *Run, cfg *Config) (*Comparison, error) {
	return report.Compare(baseline, current, cfg.Regression, report.Options{})
}

// WriteComparison prints a comparison as odbench compare --wide prints
// its table: the changes (every row with all), lines as long as they are.
func WriteComparison(w io.Writer, c *Comparison, all bool) error { return c.WriteText(w, all, 0) }
