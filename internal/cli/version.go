package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/odbench/odbench/internal/metrics"
	"github.com/spf13/cobra"
)

// version and commit are set at build time:
// -ldflags "-X github.com/odbench/odbench/internal/cli.version=v1.2.3
// -X github.com/odbench/odbench/internal/cli.commit=<sha>" (commit for
// builds without the .git directory, such as the container image's).
var (
	version = "dev"
	commit  = ""
)

// toolInfo names this build: its version, and its VCS revision when the
// Go toolchain stamped one (go build in a checkout does; go run and
// -buildvcs=false do not, and make build asks for it explicitly).
func toolInfo() metrics.Tool {
	t := metrics.Tool{Name: "odbench", Version: version}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				t.Commit = s.Value
			case "vcs.modified":
				t.Modified = s.Value == "true"
			}
		}
		if t.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			t.Version = bi.Main.Version
		}
	}
	if t.Commit == "" {
		t.Commit = commit
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
			switch {
			case commit == "":
				commit = "unknown: built without VCS stamping (go run, or -buildvcs=false); make build stamps it"
			case t.Modified:
				commit += " with uncommitted changes"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "odbench %s (commit %s, results schema v%d, %s %s/%s)\n",
				t.Version, commit, metrics.SchemaVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
