// Which regression settings compare judges with: those the results files
// recorded, unless the command line chose others.

package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// recordedRegression reads the regression settings a results file was
// written with (its config block); ok is false when it holds none.
func recordedRegression(run *metrics.Run) (config.Regression, bool) {
	if run == nil || run.Config == nil {
		return config.Regression{}, false
	}
	raw, err := json.Marshal(run.Config)
	if err != nil {
		return config.Regression{}, false
	}
	var c struct {
		Regression *config.Regression `json:"regression"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Regression == nil || c.Regression.Alpha <= 0 {
		return config.Regression{}, false
	}
	return *c.Regression, true
}

// describeRegression prints settings in one line.
func describeRegression(r config.Regression) string {
	s := fmt.Sprintf("alpha %g, min_samples %d, tolerance %g%%", r.Alpha, r.MinSamples, r.TolerancePercent)
	if len(r.Metrics) > 0 {
		s += fmt.Sprintf(", per metric %v", r.Metrics)
	}
	if len(r.Scenarios) > 0 {
		s += fmt.Sprintf(", per scenario %v", r.Scenarios)
	}
	return s
}

// regressionEnvSet reports whether an ODBENCH_REGRESSION_* variable is set.
func regressionEnvSet() bool {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ODBENCH_REGRESSION_") {
			return true
		}
	}
	return false
}

// pickRegression returns the settings compare judges base and cur with,
// and a line saying which and why. chosen names what on the command line
// chose a whole set of settings (a profile, a config file, environment
// variables), empty when nothing did: then the files' own settings apply,
// the baseline's when the two differ, so that a change cannot loosen the
// gate it is judged by. flags then overrides single settings of that set
// (--alpha and the like) and names those it set.
func pickRegression(cfg *config.Config, chosen string, flags func(*config.Regression) []string, base, cur *metrics.Run) (config.Regression, string) {
	reg, from, differ := cfg.Regression, chosen, ""
	if chosen == "" {
		rb, okB := recordedRegression(base)
		rc, okC := recordedRegression(cur)
		switch {
		case okB && okC && !reflect.DeepEqual(rb, rc):
			reg, from = rb, "the baseline's"
			differ = fmt.Sprintf("the two files were written with different regression settings (baseline: %s; current: %s): judged with the baseline's, so a change cannot loosen its own gate; --profile, --config or --alpha choose others",
				describeRegression(rb), describeRegression(rc))
		case okB:
			from = "recorded in the results files"
			reg = rb
		case okC:
			from = "recorded in the current file; the baseline records none"
			reg = rc
		default:
			from = "the defaults: neither file records its settings"
		}
	}
	set := flags(&reg)
	if differ != "" && len(set) == 0 {
		return reg, differ
	}
	if len(set) > 0 {
		from += ", then " + strings.Join(set, ", ")
	}
	return reg, "judged with " + describeRegression(reg) + " (" + from + ")"
}
