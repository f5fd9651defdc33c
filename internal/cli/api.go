package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/runner"
)

// LoadConfig is the configuration the commands use: defaults, then the
// built-in profile (may be empty), then the file (may be empty), then the
// ODBENCH_* environment, validated (every problem at once).
func LoadConfig(profile, file string) (*config.Config, error) {
	cfg, keyErr, err := loadConfig(profile, file)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(keyErr, cfg.Validate()); err != nil {
		return nil, fmt.Errorf("invalid configuration:\n%w", indent(err))
	}
	return cfg, nil
}

// NewRunner builds the runner odbench run would for cfg: its cluster
// driver (and an A/B baseline side), writing results into resultsDir.
// Progress is silent; log receives debug details (nil: none).
func NewRunner(cfg *config.Config, resultsDir string, log *slog.Logger) (*runner.Runner, error) {
	started := time.Now().UTC()
	pl, err := newPlan(cfg, runner.RunDir(resultsDir, started))
	if err != nil {
		return nil, err
	}
	return runner.New(runner.Options{Config: cfg, Target: pl.profile, Driver: pl.driver, ResultsDir: resultsDir, Tool: toolInfo(),
		Log: log, Describe: pl.describe, Started: started, Baseline: pl.baseline})
}
