package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// notYet is the RunE of a command whose feature is not in this build: it
// says so plainly and exits 2, never printing made-up output.
func notYet(what string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return usageError(fmt.Errorf("odbench %s is not available yet in this build (%s)", cmd.Name(), what))
	}
}

func newReportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "report [RESULTS.json ...]",
		Short: "Render results as text, markdown, HTML or JSON reports (not available yet)",
		Long: `report turns results files into reports with charts, targets, scalability
analysis and recommendations. It is not available yet in this build; the
results JSON itself is complete and documented in README.md.`,
		Example: "  odbench report --format html results/odbench-20261129T101500Z.json",
		RunE:    notYet("reports are planned: compare, report, archive, merge"),
	}
}

func newMonitorCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "monitor",
		Short:   "Serve a live dashboard with WebSocket updates and alerts (not available yet)",
		Example: "  odbench monitor --config configs/benchmark_config.yaml",
		RunE:    notYet("the live dashboard is planned"),
	}
}
