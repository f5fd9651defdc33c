package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/odbench/odbench/internal/metrics"
	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func toolInfo() metrics.Tool {
	t := metrics.Tool{Name: "odbench", Version: version}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				t.Commit = s.Value
			}
		}
		if t.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			t.Version = bi.Main.Version
		}
	}
	return t
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print odbench's version, commit, results schema version and Go version",
		Example: "  odbench version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t := toolInfo()
			commit := t.Commit
			if commit == "" {
				commit = "unknown"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "odbench %s (commit %s, results schema v%d, %s %s/%s)\n",
				t.Version, commit, metrics.SchemaVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
