package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/runner"
)

// Exit codes (README.md documents them).
const (
	exitOK          = 0
	exitFailed      = 1 // a scenario failed, a target was missed, a regression was found
	exitUsage       = 2 // usage or config error
	exitUnreachable = 3 // the target could not be started, reached, or measured at all
	exitInterrupted = 130
)

// exitError carries an exit code inside an error (as k6's errext does).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

// exitCode picks the exit code an error carries or implies. A joined error
// (a run that failed and then also regressed) exits with the gravest:
// interrupted, then unreachable, then what the error carries.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case errors.Is(err, runner.ErrInterrupted):
		return exitInterrupted
	case errors.Is(err, cluster.ErrStart), errors.Is(err, runner.ErrNothingMeasured):
		return exitUnreachable
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, runner.ErrScenariosFailed):
		return exitFailed
	case errors.Is(err, runner.ErrResultsDir), errors.Is(err, runner.ErrNothingToRun):
		return exitUsage
	case strings.HasPrefix(err.Error(), "unknown command"), strings.HasPrefix(err.Error(), "accepts "),
		strings.HasPrefix(err.Error(), "requires "):
		// cobra's own argument errors
		return exitUsage
	}
	return exitFailed
}

// runVerdict is the exit a results file implies, as the run that wrote it
// exited: 130 interrupted, 3 a cluster that could not be started, 1 a
// failed scenario; nil when every scenario that ran passed. report uses it,
// so a verdict read back from the file matches the run's.
func runVerdict(run *metrics.Run, name string) error {
	s := metrics.SummaryOf(run)
	var unstarted []string
	for _, c := range run.Clusters {
		if c.Error != "" {
			unstarted = append(unstarted, fmt.Sprintf("cluster of %d: %s", c.Size, c.Error))
		}
	}
	switch {
	case run.Status == metrics.RunInterrupted:
		return &exitError{code: exitInterrupted, err: fmt.Errorf("%s: the run was interrupted", name)}
	case len(unstarted) > 0:
		return &exitError{code: exitUnreachable, err: fmt.Errorf("%s: %s", name, strings.Join(unstarted, "; "))}
	case s.Failed > 0:
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %d of %d scenario runs failed (%d failed checks)", name, s.Failed, s.Scenarios, s.ChecksFailed)}
	}
	r := *run
	r.Summary = s
	if err := runner.NothingMeasured(&r); err != nil {
		return &exitError{code: exitUnreachable, err: fmt.Errorf("%s: %w", name, err)}
	}
	return nil
}

// gravest returns the error whose exit code weighs most (interrupted,
// unreachable, failed, usage), joined with any others of the same code.
func gravest(errs ...error) error {
	rank := map[int]int{exitInterrupted: 4, exitUnreachable: 3, exitFailed: 2, exitUsage: 1}
	var out error
	for _, err := range errs {
		switch {
		case err == nil:
		case out == nil || rank[exitCode(err)] > rank[exitCode(out)]:
			out = err
		case rank[exitCode(err)] == rank[exitCode(out)]:
			out = errors.Join(out, err) // same code: say both
		}
	}
	return out
}

// isBareInterrupt reports whether err says only "interrupted" (already told).
func isBareInterrupt(err error) bool { return err.Error() == runner.ErrInterrupted.Error() }
