package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/report"
	"github.com/spf13/cobra"
)

type reportFlags struct {
	format       string
	out          string
	baseline     string
	profile      string
	checkTargets bool
	wide         bool
}

var reportExt = map[string]string{"text": ".txt", "md": ".md", "html": ".html", "json": ".json", "benchfmt": ".bench"}

func newReportCmd(a *app) *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report [RESULTS ...]",
		Short: "Render results as text, markdown, HTML, JSON or Go benchmark format",
		Long: `report turns results files (default: the newest in --results-dir) into a
report: System Information, Key Findings, a table per category, Scalability
Analysis (throughput against cluster size, scaling efficiency), Resource
Utilization, Targets (pass, fail or not measured, with the measured value),
Regression Analysis (with --baseline) and Recommendations. Every
recommendation comes from an explicit rule over the data and cites the
number that fired it; no rule, no advice.

Charts (latency by percentile, throughput and p99 against concurrency,
throughput against cluster size, timelines with event windows) are SVG: the
HTML report is one self-contained file with them inline; markdown links SVG
files written beside it (needs --out). --format benchfmt prints Go benchmark
lines for benchstat.

Targets and tolerances come from --config or --profile when given, else from
the configuration recorded in the results file. --check-targets exits 1 when
a target was missed.

The exit code is the run's own verdict, read from the file: 1 when a
scenario failed (a failed check of severity fail, requests failing above
targets.error_rate_percent), 3 when a cluster could not be started, 130 when
the run was interrupted; the report is written either way.`,
		Example: `  odbench report                                  # newest results, as text
  odbench report --format html --out reports     # reports/odbench-<time>.html, charts inline
  odbench report --format md --out reports results/odbench-20261129T101500Z.json
  odbench report --format benchfmt results/a.json > a.txt && benchstat a.txt b.txt
  odbench report --baseline results/base.json --check-targets`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, ok := reportExt[f.format]; !ok {
				return usageError(fmt.Errorf("--format must be text, md, html, json or benchfmt, not %q", f.format))
			}
			if len(args) == 0 {
				newest, err := metrics.NewestResults(a.resultsDir)
				if err != nil {
					return usageError(fmt.Errorf("%v; name a results file or set --results-dir", err))
				}
				args = []string{newest}
			}
			var base *metrics.Run
			if f.baseline != "" {
				var err error
				if base, err = readResults(f.baseline); err != nil {
					return err
				}
			}
			missed := 0
			var verdict error
			for _, arg := range args {
				path, err := resultsPath(arg)
				if err != nil {
					return err
				}
				run, err := readResults(path)
				if err != nil {
					return err
				}
				cfg, err := reportConfig(a, f.profile, run, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				rep, err := report.Build(path, run, cfg, base)
				if err != nil {
					return err
				}
				if err := writeReport(cmd.OutOrStdout(), rep, path, f); err != nil {
					return err
				}
				missed += rep.TargetsMissed()
				verdict = gravest(verdict, runVerdict(run, path))
			}
			if f.checkTargets && missed > 0 {
				verdict = gravest(verdict, &exitError{code: exitFailed, err: fmt.Errorf("%d target(s) missed", missed)})
			}
			return verdict
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "text", "text, md, html, json or benchfmt")
	fl.BoolVar(&f.wide, "wide", false, "text: lines as long as their content, not fitted to the terminal (COLUMNS)")
	fl.StringVar(&f.out, "out", "", "write each report (and, for md, its SVG charts) into this directory instead of stdout")
	fl.StringVar(&f.baseline, "baseline", "", "add a Regression Analysis against this results file (or the newest in a directory)")
	fl.StringVar(&f.profile, "profile", "", "take targets and tolerances from a built-in profile")
	fl.BoolVar(&f.checkTargets, "check-targets", false, "exit 1 when a target was missed")
	return cmd
}

// reportConfig picks the targets and tolerances: --config/--profile if
// given, else what the run recorded, else the defaults.
func reportConfig(a *app, profile string, run *metrics.Run, warn io.Writer) (*config.Config, error) {
	if a.configFile != "" || profile != "" {
		cfg, keyErr, err := loadConfig(profile, a.configFile)
		if err != nil {
			return nil, err
		}
		if err := errors.Join(keyErr, cfg.Validate()); err != nil {
			return nil, usageError(fmt.Errorf("invalid configuration:\n%w", indent(err)))
		}
		return cfg, nil
	}
	cfg := config.Default()
	if run.Config != nil {
		b, err := json.Marshal(run.Config)
		if err == nil {
			err = json.Unmarshal(b, &cfg)
		}
		if err != nil {
			fmt.Fprintf(warn, "odbench: the configuration recorded in the results file does not decode (%v); judging by the default targets (pass --config to choose)\n", err)
			cfg = config.Default()
		}
	}
	return &cfg, nil
}

func writeReport(stdout io.Writer, rep *report.Report, path string, f reportFlags) error {
	var charts []report.Chart
	if f.format == "html" || (f.format == "md" && f.out != "") {
		var err error
		if charts, err = rep.Charts(); err != nil {
			return fmt.Errorf("drawing charts: %w", err)
		}
	}
	w := stdout
	var file *os.File
	if f.out != "" {
		if err := os.MkdirAll(f.out, 0o755); err != nil {
			return usageError(fmt.Errorf("--out: %w", err))
		}
		name := strings.TrimSuffix(filepath.Base(path), ".json") + reportExt[f.format]
		var err error
		if file, err = os.Create(filepath.Join(f.out, name)); err != nil {
			return usageError(fmt.Errorf("--out: %w", err))
		}
		defer file.Close()
		w = file
		if f.format == "md" {
			// Named after the results file: reports of several runs share a folder.
			base := strings.TrimSuffix(filepath.Base(path), ".json")
			for i := range charts {
				if len(charts[i].SVG) == 0 {
					continue
				}
				charts[i].File = base + "-" + charts[i].File
				if err := os.WriteFile(filepath.Join(f.out, charts[i].File), charts[i].SVG, 0o644); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(stdout, "report: %s\n", file.Name())
	}
	var err error
	switch f.format {
	case "md":
		err = rep.WriteMarkdown(w, charts)
	case "html":
		err = rep.WriteHTML(w, charts)
	case "json":
		err = rep.WriteJSON(w)
	case "benchfmt":
		err = rep.WriteBenchfmt(w)
	default:
		width := 0
		if !f.wide && f.out == "" {
			width = fitWidth(w)
		}
		err = rep.WriteText(w, width)
	}
	if err != nil {
		return err
	}
	if file != nil {
		return file.Close()
	}
	return nil
}
