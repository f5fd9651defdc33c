package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// app holds what every command shares: global flags and I/O.
type app struct {
	configFile string
	resultsDir string
	debug      bool
	stdout     io.Writer
	stderr     io.Writer
	log        *slog.Logger
}

// Main runs odbench with args and returns the process exit code. ctx
// ends every command (a program's main passes the background context).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// First Ctrl-C: stop gracefully (tear down, write partial results).
	// Second: exit at once; node processes die with us (they carry Pdeathsig).
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(stderr, "odbench: interrupted; stopping (a run stops its cluster and writes partial results; Ctrl-C again to exit at once)")
		cancel()
		if _, ok := <-sigs; ok {
			fmt.Fprintln(stderr, "odbench: interrupted twice; exiting now")
			os.Exit(exitInterrupted)
		}
	}()

	a := &app{stdout: stdout, stderr: stderr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	if code != exitInterrupted || !isBareInterrupt(err) {
		fmt.Fprintf(stderr, "odbench: %v\n", err)
	}
	return code
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "odbench",
		Short: "Benchmark a distributed LLM-serving cluster (Raft, gossip, model distribution, inference)",
		Long: `odbench benchmarks clusters of the ollama-distributed kind: it starts real
local clusters (or drives an external one), runs scenario categories against
them, records HDR latency histograms and writes versioned JSON results that
compare, report and monitor turn into decisions.

Exit codes: 0 ok · 1 a scenario failed, a target was missed or a regression
was found · 2 usage or config error · 3 the target could not be started or
reached · 130 interrupted.`,
		Example: `  odbench run --profile quick
  odbench run --categories api --targets http://10.0.0.5:8080,http://10.0.0.6:8080
  odbench report --format html --out reports
  odbench compare results/base.json results/
  odbench monitor --targets http://10.0.0.5:8080
  odbench version`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.setupLog()
			return nil
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&a.configFile, "config", "", "YAML config file (see configs/benchmark_config.yaml)")
	pf.StringVar(&a.resultsDir, "results-dir", "./results", "directory for results files")
	pf.BoolVar(&a.debug, "debug", false, "log debug details to stderr (also ODBENCH_DEBUG=1 or BENCHMARK_DEBUG=1)")
	root.AddCommand(
		newRunCmd(a),
		newCompareCmd(a),
		newReportCmd(a),
		newMonitorCmd(a),
		newArchiveCmd(a),
		newMergeCmd(a),
		newCollectCmd(a),
		newShardStartCmd(),
		newNodeCmd(a),
		newVersionCmd(a),
	)
	return root
}

func (a *app) setupLog() {
	level := slog.LevelWarn
	if a.debug || truthy(os.Getenv("ODBENCH_DEBUG")) || truthy(os.Getenv("BENCHMARK_DEBUG")) {
		level = slog.LevelDebug
	}
	a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
}

func truthy(s string) bool {
	switch s {
	case "1", "true", "TRUE", "yes", "on":
		return true
	}
	return false
}
