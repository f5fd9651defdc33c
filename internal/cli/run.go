package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/odbench/odbench/configs"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/runner"
	"github.com/odbench/odbench/internal/scenarios"
	"github.com/odbench/odbench/internal/target"
	"github.com/spf13/cobra"
)

type runFlags struct {
	profile         string
	categories      string
	scenarios       string
	sizes           string
	duration        time.Duration
	warmup          time.Duration
	count           int
	target          string
	targets         string
	failFast        bool
	list            bool
	baseline        string
	allowMissing    bool
	gateOnTolerance bool
	archive         bool
	seed            uint64
	ab              string
	junit           string
	allowUnformed   bool
	checkConsist    bool
	wide            bool
	shard           string
	shardCount      int
	startAt         string
	emitResults     bool
}

func newRunCmd(a *app) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Start clusters, run the scenario categories, write results JSON",
		Long: `run starts a cluster for each configured size (by default of odbench's own
reference node), runs every enabled scenario against it (warm-up discarded,
then measured), stops it, and writes results/odbench-<UTC time>.json.

What it measures is a target profile (--target, cluster.target): YAML that
says how to start the system's members, when they have formed, how to find
the leader, how to drive its key-value store and its inference API, and how
to cut its network. Built-in profiles: odbench-node (the default), etcd,
etcd-serializable-reads (a negative control), ollama-distributed, ollama and
openai; configs/targets/ shows the format for one of your own. Scenarios
that need a section the profile lacks are skipped, naming it.

Configuration comes from, lowest precedence first: built-in defaults, a
profile (--profile quick|ci|full), a config file (--config), ODBENCH_* variables
(ODBENCH_EXECUTION_DURATION=30s sets execution.duration), and these flags.

With --baseline FILE the run ends with odbench compare FILE against itself;
with --ab OLD_BINARY every repetition runs on a cluster of OLD_BINARY's
nodes and on one of this build's (A B B A ...), one results file holds both
sides, and the run ends comparing them. Either exits 1 on a regression.

On Ctrl-C the cluster is stopped and the partial results are written, marked
"interrupted" (exit 130); a second Ctrl-C exits at once.`,
		Example: `  # the quick profile against local clusters of 1 and 3 nodes
  odbench run --profile quick

  # only the api category, 30 s per scenario, 5 repetitions for compare
  odbench run --categories api --duration 30s --count 5

  # an already running cluster (its nodes' API URLs)
  odbench run --categories api --targets http://127.0.0.1:8080,http://127.0.0.1:8081

  # etcd (Debian's etcd-server), 3 members started by odbench, faults included
  odbench run --target etcd --categories consensus,faults --cluster-sizes 3

  # a system of your own, described in a profile file
  odbench run --target ./mydb.yaml --categories consensus

  # list the plan without running it
  odbench run --profile quick --list

  # interleaved A/B: the old build's nodes against this build's, same machine
  odbench run --profile ci --ab ./odbench-main`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, keyErr, err := loadConfig(f.profile, a.configFile)
			if err != nil {
				return err
			}
			if err := f.apply(cmd, cfg); err != nil {
				return usageError(err)
			}
			if err := errors.Join(keyErr, cfg.Validate()); err != nil {
				return usageError(fmt.Errorf("invalid configuration:\n%w", indent(err)))
			}
			if f.baseline != "" && cfg.AB.Binary != "" {
				return usageError(errors.New("--baseline and --ab: give one; an A/B run is judged against its own baseline side"))
			}
			judged := f.baseline
			if cfg.AB.Binary != "" {
				judged = "the A/B baseline side"
			}
			if err := checkCountForBaseline(judged, cfg); err != nil {
				return usageError(err)
			}
			if f.junit != "" && judged == "" {
				return usageError(errors.New("--junit writes a comparison: give --baseline FILE or --ab OLD_BINARY"))
			}
			a.log.Debug("configuration", "profile", f.profile, "config", a.configFile, "driver", cfg.Cluster.Driver,
				"sizes", fmt.Sprint(cfg.System.ClusterSizes), "duration", cfg.Execution.Duration, "warmup", cfg.Execution.WarmupDuration,
				"count", cfg.Execution.Count, "categories", strings.Join(cfg.EnabledCategories(), ","))
			started := time.Now().UTC()
			pl, err := newPlan(cfg, runner.RunDir(a.resultsDir, started))
			if err != nil {
				return usageError(err)
			}
			out := cmd.OutOrStdout()
			prog := newProgress(a.stderr)
			r, err := runner.New(runner.Options{Config: cfg, Target: pl.profile, Driver: pl.driver, ResultsDir: a.resultsDir, Tool: toolInfo(),
				Progress: prog, Log: a.log, Describe: pl.describe, Started: started, Baseline: pl.baseline})
			if err != nil {
				return usageError(err)
			}
			if f.list {
				var caps scenarios.Capabilities
				if cfg.Cluster.Driver == "external" { // it is running: ask what it serves
					c, err := pl.driver.Start(cmd.Context(), len(cfg.Cluster.Targets))
					if err != nil {
						return err
					}
					caps = scenarios.Probe(cmd.Context(), c, cfg, pl.profile)
				}
				printPlan(out, r, cfg, caps)
				return nil
			}
			if late := cfg.Shard.Late(time.Now()); late > 0 && cfg.Shard.Sharded() && cfg.Shard.LateStart != "allow" {
				return usageError(fmt.Errorf("shard.start_at %s passed %v ago: the shards would not start together; give a later instant (odbench shard-start --in 90s prints one), or set shard.late_start: allow to start late, the lateness recorded",
					cfg.Shard.StartAt, late.Round(time.Millisecond)))
			}
			var base *metrics.Run
			if f.baseline != "" { // read before spending minutes on the run
				if base, err = readResults(f.baseline); err != nil {
					return err
				}
			}
			run, path, err := r.Run(cmd.Context())
			prog.Close()
			switch {
			case run != nil && f.wide:
				printWideSummary(out, run)
				if path != "" {
					fmt.Fprintf(out, "\nresults: %s\n", path)
				}
			case run != nil:
				printSummary(out, summaryInput{run: run, cfg: cfg, path: path, width: termWidth(out)})
			case path != "":
				fmt.Fprintf(out, "results: %s\n", path)
			}
			if f.emitResults && path != "" {
				if eerr := emitResults(out, path, cfg.Shard); eerr != nil {
					err = errors.Join(err, fmt.Errorf("--emit-results: %w", eerr))
				} else if err != nil && !errors.Is(err, runner.ErrInterrupted) {
					// A shard measured and reported: its exit says so. What it
					// found is the verdict of odbench merge (or report) on the
					// shards' results, so one failed scenario does not fail
					// the Job and cut the other shards short.
					fmt.Fprintf(a.stderr, "odbench: %v; exit 0 with --emit-results: the verdict is odbench merge's on the shards' results\n", err)
					err = nil
				}
			}
			if f.archive && path != "" {
				name, aerr := archiveRun(path, run, cfg, a.resultsDir)
				if aerr != nil {
					err = errors.Join(err, fmt.Errorf("--archive: %w", aerr))
				} else {
					fmt.Fprintf(out, "archive: %s\n", name)
				}
			}
			baseName, cur, curName := f.baseline, run, path
			if run != nil && metrics.IsAB(run) {
				base, cur, _ = metrics.SplitSides(run)
				baseName, curName = path+" (baseline side)", path+" (current side)"
			}
			if base != nil && run != nil && !errors.Is(err, runner.ErrInterrupted) {
				fmt.Fprintln(out)
				cerr := compareRuns(out, base, cur, baseName, curName, cfg.Regression, compareFlags{format: "text", allowMissing: f.allowMissing,
					gateOnTolerance: f.gateOnTolerance, junit: f.junit})
				if err == nil {
					err = cerr
				} else if cerr != nil {
					err = errors.Join(err, cerr)
				}
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.profile, "profile", "", "built-in profile: "+strings.Join(configs.Profiles(), ", "))
	fl.StringVar(&f.categories, "categories", "", "comma-separated categories to run, e.g. consensus,api (others off)")
	fl.StringVar(&f.scenarios, "scenarios", "", "comma-separated scenario names, segment prefixes (api/health_check) or globs (api/*/rate=*)")
	fl.StringVar(&f.sizes, "cluster-sizes", "", "comma-separated cluster sizes, e.g. 1,3,5")
	fl.DurationVar(&f.duration, "duration", 0, "measured time per scenario, e.g. 30s")
	fl.DurationVar(&f.warmup, "warmup", 0, "warm-up per scenario (discarded), e.g. 5s; 0s for none (default: the profile's)")
	fl.IntVar(&f.count, "count", 0, "repetitions of every scenario (compare needs 4 or more for its test)")
	fl.StringVar(&f.target, "target", "", "the target profile: a built-in one ("+strings.Join(target.Builtin(), ", ")+") or a profile file (cluster.target)")
	fl.StringVar(&f.targets, "targets", "", "comma-separated node API URLs of an external cluster (sets the external driver)")
	fl.BoolVar(&f.failFast, "fail-fast", false, "stop at the first failed scenario")
	fl.BoolVar(&f.list, "list", false, "print the plan and exit")
	fl.BoolVar(&f.archive, "archive", false, "also write benchmark_results_<time>.tar.gz with the results, reports and node logs")
	fl.StringVar(&f.baseline, "baseline", "", "compare with this results file at the end, like odbench compare (exit 1 on a regression)")
	fl.BoolVar(&f.allowMissing, "allow-missing", false, "with --baseline: scenarios of the baseline this run did not run are not regressions")
	fl.BoolVar(&f.gateOnTolerance, "gate-on-tolerance", false, "with --baseline: a change judged by the tolerance alone is a regression, not unconfirmed")
	fl.Uint64Var(&f.seed, "seed", 0, "seed of every scenario's arrivals and operation picks (0: random; the results file records it)")
	fl.BoolVar(&f.allowUnformed, "allow-unformed", false, "measure a cluster that did not meet cluster.ready anyway, marked as such (else its scenarios are skipped and the run exits 3)")
	fl.StringVar(&f.shard, "shard", "", "run shard INDEX/COUNT of the plan (0-based): 1/COUNT of every rate and client count, against --targets; odbench merge adds the shards")
	fl.IntVar(&f.shardCount, "shard-count", 0, "shards of the plan, this one's index from JOB_COMPLETION_INDEX (a Kubernetes Indexed Job; also ODBENCH_SHARD_COUNT)")
	fl.StringVar(&f.startAt, "start-at", "", "RFC 3339 instant every shard starts at; each scenario then starts at the same instant on all of them (shard.start_at)")
	fl.BoolVar(&f.emitResults, "emit-results", false, "also print the results file to stdout as odbench-results lines, for odbench collect to gather from logs")
	fl.BoolVarP(&f.wide, "wide", "v", false, "end with the full table: every operation and phase of every scenario, one row each")
	fl.BoolVar(&f.checkConsist, "check-consistency", false, "also record a key-value history beside every consensus scenario and check it for linearizability (fault scenarios always do)")
	fl.StringVar(&f.junit, "junit", "", "with --baseline or --ab: also write the comparison as JUnit XML to this file")
	fl.StringVar(&f.ab, "ab", "", "interleaved A/B: run every repetition on a cluster of this (old) node binary and on one of the current, A B B A ..., then compare the sides (ab.baseline_args and ab.current_args add node flags per side)")
	return cmd
}

// apply overrides cfg with the flags the user set.
func (f *runFlags) apply(cmd *cobra.Command, cfg *config.Config) error {
	fl := cmd.Flags()
	if fl.Changed("categories") {
		cfg.OnlyCategories(splitList(f.categories))
	}
	if fl.Changed("scenarios") {
		cfg.Execution.Scenarios = splitList(f.scenarios)
	}
	if fl.Changed("cluster-sizes") {
		sizes, err := config.ParseSizes(f.sizes)
		if err != nil {
			return fmt.Errorf("--cluster-sizes: %v", err)
		}
		cfg.System.ClusterSizes = sizes
	}
	if fl.Changed("duration") {
		cfg.Execution.Duration = f.duration
	}
	if fl.Changed("warmup") {
		cfg.Execution.WarmupDuration = f.warmup
	}
	if fl.Changed("count") {
		cfg.Execution.Count = f.count
	}
	if fl.Changed("target") {
		cfg.Cluster.Target = f.target
	}
	if fl.Changed("targets") {
		cfg.Cluster.Driver = "external"
		cfg.Cluster.Targets = splitList(f.targets)
	}
	if fl.Changed("fail-fast") {
		cfg.Execution.FailFast = f.failFast
	}
	if fl.Changed("seed") {
		cfg.Execution.Seed = f.seed
	}
	if fl.Changed("ab") {
		cfg.AB.Binary = f.ab
	}
	if fl.Changed("allow-unformed") {
		cfg.Cluster.AllowUnformed = f.allowUnformed
	}
	if fl.Changed("check-consistency") {
		cfg.Consensus.CheckConsistency = f.checkConsist
	}
	switch {
	case fl.Changed("shard"):
		i, n, ok := fraction(f.shard)
		if !ok {
			return fmt.Errorf("--shard: want INDEX/COUNT, such as 0/3, not %q", f.shard)
		}
		cfg.Shard.Index, cfg.Shard.Count = i, n
	case fl.Changed("shard-count"):
		cfg.Shard.Count = f.shardCount
		fallthrough
	case cfg.Shard.Count > 1 && os.Getenv("JOB_COMPLETION_INDEX") != "":
		i, err := shardFromEnv()
		if err != nil {
			return err
		}
		cfg.Shard.Index = i
	}
	if fl.Changed("start-at") {
		cfg.Shard.StartAt = f.startAt
	}
	return nil
}

// checkCountForBaseline refuses a repetition count with which the run's
// own comparison could not use its statistical test: more than one
// repetition but fewer than the U test needs is time spent for nothing.
func checkCountForBaseline(baseline string, cfg *config.Config) error {
	n, r := cfg.Execution.Count, cfg.Regression
	need := max(r.MinSamples, config.MinUTestSamples(r.Alpha))
	if baseline == "" || n <= 1 || n >= need {
		return nil
	}
	return fmt.Errorf("--count %d with --baseline: compare's Mann-Whitney U test needs at least %d repetitions a side "+
		"(regression.min_samples %d, alpha %g; with %d its smallest p is %.3g); use --count %d or more, or --count 1 to judge by the tolerance alone",
		n, need, r.MinSamples, r.Alpha, n, config.MinUTestP(n), need)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// indent puts each joined error on its own indented line.
func indent(err error) error {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// shardPart says what a sharded plan's shard runs of s: its part of the
// rate or the clients, or that it skips it ("" when not sharded).
func shardPart(s scenarios.Spec, sh config.Shard) string {
	switch {
	case !sh.Sharded():
		return ""
	case s.Unsplittable != "" && sh.Index != 0:
		return "  (not on this shard: " + s.Unsplittable + "; shard 0 runs it)"
	case s.Unsplittable != "":
		return "  (this shard only: " + s.Unsplittable + ")"
	}
	if r, err := strconv.ParseFloat(s.Params["rate_per_s"], 64); err == nil && r > 0 {
		return fmt.Sprintf("  (this shard: %.4g/s of %.4g/s)", sh.Rate(r), r)
	}
	if n, err := strconv.Atoi(s.Params["clients"]); err == nil && n > 0 {
		if part := sh.Workers(n); part > 0 {
			return fmt.Sprintf("  (this shard: %d of %d clients)", part, n)
		}
		return fmt.Sprintf("  (not on this shard: its part of %d clients is 0)", n)
	}
	return ""
}

// printPlan lists the scenarios the run would run; with the capabilities
// of a running target, those it would skip say why.
func printPlan(w io.Writer, r *runner.Runner, cfg *config.Config, caps scenarios.Capabilities) {
	fmt.Fprintf(w, "plan: cluster sizes %v × %d scenarios × %d repetitions = %d runs of %v each (plus %v warm-up)\n",
		r.Sizes(), len(r.Specs()), cfg.Execution.Count, r.Total(), cfg.Execution.Duration, cfg.Execution.WarmupDuration)
	if sh := cfg.Shard; sh.Sharded() {
		fmt.Fprintf(w, "shard %d of %d (0-based): its part of every open-loop rate and closed-loop client count\n", sh.Index, sh.Count)
	}
	for _, s := range r.Specs() {
		if why := caps.Missing(s); why != "" {
			fmt.Fprintf(w, "  %s  (skipped: %s)\n", s.Name, why)
			continue
		}
		fmt.Fprintf(w, "  %s%s\n", s.Name, shardPart(s, cfg.Shard))
	}
	var optIn []string
	for _, s := range scenarios.All(cfg) {
		if s.OptIn && !slices.ContainsFunc(r.Specs(), func(p scenarios.Spec) bool { return p.Name == s.Name }) {
			optIn = append(optIn, s.Name)
		}
	}
	if len(optIn) > 0 {
		fmt.Fprintf(w, "run only when named (--scenarios): %s\n", strings.Join(optIn, ", "))
	}
}
