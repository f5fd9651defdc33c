package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/report"
	"github.com/spf13/cobra"
)

func newArchiveCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "archive [RESULTS]",
		Short: "Pack a results file, its reports and node logs into benchmark_results_<time>.tar.gz",
		Long: `archive writes benchmark_results_<UTC time>.tar.gz (the older framework's
name) holding the results file, the run's folder beside it (node logs,
goroutine dumps) and the rendered reports (text, markdown with its SVG
charts, HTML). RESULTS defaults to the newest results file in --results-dir.`,
		Example: `  odbench archive
  odbench archive results/odbench-20261129T101500Z.json --out /tmp`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := a.resultsDir
			if len(args) == 1 {
				path = args[0]
			}
			path, err := resultsPath(path)
			if err != nil {
				return err
			}
			run, err := readResults(path)
			if err != nil {
				return err
			}
			cfg, err := reportConfig(a, "", run, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if out == "" {
				out = filepath.Dir(path)
			}
			name, err := archiveRun(path, run, cfg, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "archive: %s\n", name)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for the archive (default: beside the results file)")
	return cmd
}

// archiveRun renders the reports of run and packs everything into dir.
func archiveRun(path string, run *metrics.Run, cfg *config.Config, dir string) (string, error) {
	rep, err := report.Build(path, run, cfg, nil)
	if err != nil {
		return "", err
	}
	charts, err := rep.Charts()
	if err != nil {
		return "", err
	}
	files := map[string][]byte{}
	render := func(name string, write func(io.Writer) error) error {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			return err
		}
		files[name] = b.Bytes()
		return nil
	}
	err = errors.Join(
		render("report.txt", rep.WriteText),
		render("report.md", func(w io.Writer) error { return rep.WriteMarkdown(w, charts) }),
		render("report.html", func(w io.Writer) error { return rep.WriteHTML(w, charts) }),
	)
	if err != nil {
		return "", err
	}
	for _, c := range charts {
		files[c.File] = c.SVG
	}
	name := filepath.Join(dir, report.ArchiveName(run.StartedAt))
	tmp, err := os.CreateTemp(dir, ".archive-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := report.Archive(tmp, path, files); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return name, os.Rename(tmp.Name(), name)
}

func newMergeCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "merge RESULTS RESULTS... -o MERGED",
		Short: "Merge runs of one plan made from several load machines against one cluster",
		Long: `merge adds up runs of the same plan made at the same time from several load
machines against one external cluster: per operation the HDR histograms are
added (exact percentiles, never averaged), and counts, errors and throughput
summed. Runs of different plans (other scenarios, sizes, repetitions or
operations) are refused, naming the difference. Host, resources, scalars and
timelines are those of the first file, and the merged file says so.`,
		Example: `  # on each load machine, at the same time:
  odbench run --targets http://10.0.0.5:8080,http://10.0.0.6:8080 --categories api --results-dir out
  # then, with every machine's file in one place:
  odbench merge load1.json load2.json load3.json -o merged.json
  odbench report merged.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError(fmt.Errorf("merge needs at least two results files, got %d", len(args)))
			}
			if out == "" {
				return usageError(errors.New("merge needs -o FILE for the merged results"))
			}
			var runs []*metrics.Run
			for _, p := range args {
				run, err := readResults(p)
				if err != nil {
					return err
				}
				runs = append(runs, run)
			}
			merged, err := metrics.Merge(runs, args)
			if errors.Is(err, metrics.ErrPlanMismatch) {
				return usageError(err)
			}
			if err != nil {
				return err
			}
			if err := metrics.WriteRun(out, merged); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %d runs into %s\n", len(runs), out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "the merged results file")
	return cmd
}
