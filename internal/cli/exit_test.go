package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/runner"
)

func TestExitCode(t *testing.T) {
	regression := &exitError{code: exitFailed, err: errors.New("1 regression(s)")}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"usage", usageError(errors.New("bad flag")), exitUsage},
		{"scenario failed", fmt.Errorf("%w: 1 of 2", runner.ErrScenariosFailed), exitFailed},
		{"regression", regression, exitFailed},
		{"unreachable", fmt.Errorf("cluster of 3: %w", cluster.ErrStart), exitUnreachable},
		{"unreachable and regressed", errors.Join(fmt.Errorf("x: %w", cluster.ErrStart), regression), exitUnreachable},
		{"interrupted", runner.ErrInterrupted, exitInterrupted},
		{"results dir", fmt.Errorf("%w: denied", runner.ErrResultsDir), exitUsage},
		{"cobra", errors.New(`unknown command "x" for "odbench"`), exitUsage},
		{"anything else", errors.New("boom"), exitFailed},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.want {
			t.Errorf("%s: exitCode = %d, want %d", tt.name, got, tt.want)
		}
	}
}
