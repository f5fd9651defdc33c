package main

import (
	"errors"
	"strings"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/runner"
)

// Exit codes (README.md documents them).
const (
	exitOK          = 0
	exitFailed      = 1 // a scenario failed, a target was missed, a regression was found
	exitUsage       = 2 // usage or config error
	exitUnreachable = 3 // the target could not be started or reached
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
	case errors.Is(err, cluster.ErrStart):
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

// isBareInterrupt reports whether err says only "interrupted" (already told).
func isBareInterrupt(err error) bool { return err.Error() == runner.ErrInterrupted.Error() }
