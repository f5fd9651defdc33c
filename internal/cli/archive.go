package cli

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
		render("report.txt", func(w io.Writer) error { return rep.WriteText(w, 0) }),
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
