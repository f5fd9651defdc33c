package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/report"
	"github.com/spf13/cobra"
)

type compareFlags struct {
	format          string
	junit           string
	all             bool
	allowMissing    bool
	gateOnTolerance bool
	wide            bool
	// settings says which regression settings judge and why (pickRegression).
	settings string
}

func newCompareCmd(a *app) *cobra.Command {
	var f compareFlags
	var rf regressionFlags
	var profile string
	cmd := &cobra.Command{
		Use:   "compare BASELINE CURRENT | compare AB_RESULTS",
		Short: "Decide whether CURRENT regressed against BASELINE; exit 1 if it did",
		Long: `compare judges CURRENT against BASELINE.

Breakage first, by counts of repetitions: a scenario that passed in some
baseline repetition and failed in every current one is a regression, with its
error; one that failed in some current repetitions is a regression when
Fisher's exact test finds it failing more often than in the baseline at
regression.alpha (one failure in ten is not a change; four in five against
none is). One measured in the baseline that CURRENT did not run (or skipped)
is a regression too, unless --allow-missing.

Then, by cluster size, scenario and operation: throughput, p50, p95, p99,
error rate (in percentage points) and peak RSS, over the repetitions that ran.
A change within the tolerance (regression.tolerance_percent, overridable per
metric and per scenario prefix) is no change. A change no larger than the
metric's noise (the spread of the repetitions, or of the per-second values
with fewer than 3) is never a regression. Beyond both, with at least
regression.min_samples repetitions on both sides (run --count N, or --profile
ci), the Mann-Whitney U test decides: its p-values are adjusted over every
row it judged (Benjamini-Hochberg, for the false discovery rate) and the
adjusted p is compared with regression.alpha; the output shows both. With
fewer repetitions, the change is unconfirmed: listed, but not a regression
unless --gate-on-tolerance.

The regression settings are those the results files recorded (the
baseline's, when the two differ, so a change cannot loosen its own gate),
unless --profile, --config or ODBENCH_REGRESSION_* choose others;
--alpha, --min-samples and --tolerance then change single settings of
whichever set applies. The output says which judged.

Given one file, the results of an interleaved A/B run (run --ab), it compares
that run's baseline side with its current side.

Exit codes: 0 no regression, 1 regression, 2 bad input (a missing or
unreadable file, a newer schema, nothing in common). BASELINE and CURRENT are
results files, or directories meaning their newest one. Scenarios only in
CURRENT are listed, not judged. With $GITHUB_STEP_SUMMARY set, a markdown
summary is appended to it.`,
		Example: `  odbench compare results/base.json results/odbench-20261129T101500Z.json
  odbench compare results/                                  # an A/B run: its two sides
  odbench compare --format md base.json current.json >> comment.md
  odbench compare --junit compare.xml --config ci.yaml base.json current.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 && len(args) != 2 {
				return usageError(fmt.Errorf("compare needs two results files, BASELINE and CURRENT, or the one file of an A/B run; got %d", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, keyErr, err := loadConfig(profile, a.configFile)
			if err != nil {
				return err
			}
			if err := errors.Join(keyErr, cfg.Validate()); err != nil {
				return usageError(fmt.Errorf("invalid configuration:\n%w", indent(err)))
			}
			switch f.format {
			case "text", "md", "json":
			default:
				return usageError(fmt.Errorf("--format must be text, md or json, not %q", f.format))
			}
			// A directory means its newest file; name the file in the output.
			for i := range args {
				p, err := resultsPath(args[i])
				if err != nil {
					return err
				}
				args[i] = p
			}
			base, err := readResults(args[0])
			if err != nil {
				return err
			}
			baseName, curName := args[0], ""
			var cur *metrics.Run
			if len(args) == 1 {
				b, c, ok := metrics.SplitSides(base)
				if !ok {
					return usageError(fmt.Errorf("%s is not an A/B run (run --ab): compare needs two results files, BASELINE and CURRENT", args[0]))
				}
				base, cur, baseName, curName = b, c, args[0]+" (baseline side)", args[0]+" (current side)"
			} else if cur, err = readResults(args[1]); err != nil {
				return err
			} else {
				curName = args[1]
			}
			flags := func(r *config.Regression) []string { return applyRegressionFlags(cmd, r, &rf) }
			reg, why := pickRegression(cfg, chosenSettings(profile, a.configFile), flags, base, cur)
			if err := reg.Validate(); err != nil {
				return usageError(fmt.Errorf("the regression settings to judge with: %v", err))
			}
			f.settings = why
			return compareRuns(cmd.OutOrStdout(), base, cur, baseName, curName, reg, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "output: text, md or json")
	fl.StringVar(&f.junit, "junit", "", "also write JUnit XML (one test case per comparison) to this file")
	fl.BoolVar(&f.all, "all", false, "list every compared metric, not only those that moved beyond the tolerance")
	fl.BoolVar(&f.wide, "wide", false, "text: lines as long as their content, not fitted to the terminal (COLUMNS)")
	fl.BoolVar(&f.allowMissing, "allow-missing", false, "list scenarios of the baseline that CURRENT did not run without calling them regressions")
	fl.BoolVar(&f.gateOnTolerance, "gate-on-tolerance", false, "call a change judged by the tolerance alone (too few repetitions for the U test) a regression instead of unconfirmed")
	fl.StringVar(&profile, "profile", "", "take the regression settings of a built-in profile")
	fl.Float64Var(&rf.alpha, "alpha", 0, "significance level of the U test (default: what the results files recorded)")
	fl.IntVar(&rf.minSamples, "min-samples", 0, "repetitions each side needs for the U test (default: what the results files recorded)")
	fl.Float64Var(&rf.tolerance, "tolerance", 0, "the smallest change in percent that counts (default: what the results files recorded)")
	return cmd
}

// regressionFlags override single regression settings.
type regressionFlags struct {
	alpha, tolerance float64
	minSamples       int
}

// applyRegressionFlags puts the regression flags given into r and names
// them.
func applyRegressionFlags(cmd *cobra.Command, r *config.Regression, rf *regressionFlags) []string {
	var set []string
	if cmd.Flags().Changed("alpha") {
		r.Alpha = rf.alpha
		set = append(set, "--alpha")
	}
	if cmd.Flags().Changed("min-samples") {
		r.MinSamples = rf.minSamples
		set = append(set, "--min-samples")
	}
	if cmd.Flags().Changed("tolerance") {
		r.TolerancePercent = rf.tolerance
		set = append(set, "--tolerance")
	}
	return set
}

// chosenSettings names what on the command line chose a whole set of
// regression settings, or "" when nothing did.
func chosenSettings(profile, configFile string) string {
	var why []string
	if profile != "" {
		why = append(why, "--profile "+profile)
	}
	if configFile != "" {
		why = append(why, "--config "+configFile)
	}
	if regressionEnvSet() {
		why = append(why, "ODBENCH_REGRESSION_*")
	}
	return strings.Join(why, ", ")
}

// resultsPath is path, or the newest results file when path is a directory.
func resultsPath(path string) (string, error) {
	if info, err := os.Stat(path); err == nil && info.IsDir() {
		newest, err := metrics.NewestResults(path)
		if err != nil {
			return "", usageError(err)
		}
		return newest, nil
	}
	return path, nil
}

// readResults reads a results file, or the newest one in a directory;
// every failure is a usage error naming the file.
func readResults(path string) (*metrics.Run, error) {
	path, err := resultsPath(path)
	if err != nil {
		return nil, err
	}
	run, err := metrics.ReadRunFile(path)
	if err != nil {
		return nil, usageError(err)
	}
	return run, nil
}

// compareRuns compares, writes the outputs, and returns an error carrying
// exit code 1 on a regression (2 when there is nothing to compare).
func compareRuns(out io.Writer, base, cur *metrics.Run, baseName, curName string, r config.Regression, f compareFlags) error {
	cmp, err := report.Compare(base, cur, r, report.Options{AllowMissing: f.allowMissing, GateOnTolerance: f.gateOnTolerance})
	if errors.Is(err, report.ErrNothingInCommon) {
		return usageError(fmt.Errorf("%s and %s: %w (scenarios of the baseline: %d, of the current run: %d)",
			baseName, curName, err, len(cmp.OnlyBaseline), len(cmp.OnlyCurrent)))
	}
	if err != nil {
		return err
	}
	cmp.Baseline, cmp.Current = baseName, curName
	cmp.Settings = f.settings
	switch f.format {
	case "md":
		err = cmp.WriteMarkdown(out, f.all)
	case "json":
		err = cmp.WriteJSON(out)
	default:
		width := 0
		if !f.wide {
			width = fitWidth(out)
		}
		err = cmp.WriteText(out, f.all, width)
	}
	if err != nil {
		return err
	}
	if f.junit != "" {
		if err := writeFileWith(f.junit, cmp.WriteJUnit); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	if path := os.Getenv("GITHUB_STEP_SUMMARY"); path != "" {
		file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", err)
		}
		werr := cmp.WriteMarkdown(file, false)
		if cerr := file.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("GITHUB_STEP_SUMMARY: %w", werr)
		}
	}
	if n := cmp.Failures(); n > 0 {
		return &exitError{code: exitFailed, err: fmt.Errorf("%d regression(s) against %s", n, baseName)}
	}
	return nil
}

// writeFileWith creates path and lets write fill it.
func writeFileWith(path string, write func(io.Writer) error) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}
