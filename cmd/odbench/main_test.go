package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/metrics"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"odbench": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: help, configs,
// exit codes, a real run. Each script runs in its own temp dir.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// exits CODE CMD ARGS...: run CMD and require exit code CODE
			// ("any" accepts every code); stdout and stderr are kept for
			// the next assertions.
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits CODE CMD [ARGS...]")
				}
				want, err := strconv.Atoi(args[0])
				if args[0] == "any" {
					want, err = -1, nil
				}
				if err != nil {
					ts.Fatalf("exits: bad code %q", args[0])
				}
				err = ts.Exec(args[1], args[2:]...)
				got := 0
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("exits: %v", err)
				}
				if want >= 0 && got != want {
					ts.Fatalf("exit code %d, want %d", got, want)
				}
			},
			// sleep DURATION
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
			// results DIR FIELD WANT: the newest results file in DIR has
			// top-level FIELD (status, schema_version, summary.ok...) equal to WANT.
			"results": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: results DIR FIELD WANT")
				}
				entries, err := os.ReadDir(ts.MkAbs(args[0]))
				ts.Check(err)
				var newest string
				for _, e := range entries {
					if !e.IsDir() && len(e.Name()) > 5 && e.Name()[len(e.Name())-5:] == ".json" {
						newest = e.Name()
					}
				}
				if newest == "" {
					ts.Fatalf("no results file in %s", args[0])
				}
				run, err := metrics.ReadRunFile(ts.MkAbs(args[0] + "/" + newest))
				ts.Check(err)
				got := map[string]string{
					"status":         run.Status,
					"schema_version": strconv.Itoa(run.SchemaVersion),
					"summary.ok":     strconv.Itoa(run.Summary.OK),
					"summary.failed": strconv.Itoa(run.Summary.Failed),
					"clusters":       strconv.Itoa(len(run.Clusters)),
				}[args[1]]
				if (got == args[2]) == neg {
					ts.Fatalf("results %s = %q, want %s%q", args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
				}
			},
		},
	})
}
