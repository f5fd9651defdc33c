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

func newMonitorCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "monitor",
		Short:   "Serve a live dashboard with WebSocket updates and alerts (not available yet)",
		Example: "  odbench monitor --config configs/benchmark_config.yaml",
		RunE:    notYet("the live dashboard is planned"),
	}
}
