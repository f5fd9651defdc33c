package report

import (
	"fmt"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
)

// Breakage: scenarios the current run broke, judged before any metric.

// Kinds of breakage.
const (
	// BrokeFailed: ok in the baseline, failed in the current run.
	BrokeFailed = "failed"
	// BrokeMissing: measured in the baseline, not in the current run.
	BrokeMissing = "missing"
)

// Breakage is a scenario the current run broke: it passed in the baseline
// and failed, or it was measured there and is not here.
type Breakage struct {
	Size     int    `json:"size"`
	Scenario string `json:"scenario"`
	Kind     string `json:"kind"`
	Baseline string `json:"baseline"`
	Current  string `json:"current"`
	// Regression is false only for a missing scenario with --allow-missing.
	Regression bool `json:"regression"`
}

func (b Breakage) String() string {
	return fmt.Sprintf("%d nodes %s: %s in the baseline, %s in the current run", b.Size, b.Scenario, b.Baseline, b.Current)
}

// outcome counts one scenario's repetitions by status on one side.
type outcome struct {
	ok, failed, skipped int
	err, reason         string // the first failure's error, the first skip's reason
}

func outcomes(run *metrics.Run) map[Key]*outcome {
	out := map[Key]*outcome{}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			k := Key{Size: c.Size, Scenario: s.Name}
			o := out[k]
			if o == nil {
				o = &outcome{}
				out[k] = o
			}
			switch s.Status {
			case metrics.StatusOK:
				o.ok++
			case metrics.StatusFailed:
				o.failed++
				if o.err == "" {
					o.err = s.Error
				}
			default:
				o.skipped++
				if o.reason == "" {
					o.reason = s.Reason
				}
			}
		}
	}
	return out
}

func (o *outcome) reps() int { return o.ok + o.failed + o.skipped }

// broken finds the scenarios the current run broke, and notes the ones
// that failed on both sides or no longer fail.
func broken(base, cur map[Key]*outcome, opt Options) (out []Breakage, notes []string) {
	var keys []Key
	for k := range base {
		keys = append(keys, k)
	}
	sortKeys(keys)
	var both, fixed []string
	for _, k := range keys {
		b, c := base[k], cur[k]
		baseText := fmt.Sprintf("ok in %d of %d repetitions", b.ok, b.reps())
		switch {
		case b.ok == 0:
			if b.failed > 0 && c != nil && c.failed > 0 {
				both = append(both, k.String())
			}
			if b.failed > 0 && c != nil && c.failed == 0 && c.ok > 0 {
				fixed = append(fixed, k.String())
			}
		case c == nil || c.ok+c.failed == 0:
			now := "not run"
			if c != nil {
				now = "skipped: " + c.reason
			}
			out = append(out, Breakage{Size: k.Size, Scenario: k.Scenario, Kind: BrokeMissing, Baseline: baseText, Current: now,
				Regression: !opt.AllowMissing})
		case c.failed > 0 && b.failed == 0:
			out = append(out, Breakage{Size: k.Size, Scenario: k.Scenario, Kind: BrokeFailed, Baseline: baseText,
				Current: fmt.Sprintf("failed in %d of %d repetitions: %s", c.failed, c.reps(), c.err), Regression: true})
		case c.failed > 0:
			both = append(both, k.String())
		}
	}
	if len(both) > 0 {
		notes = append(notes, "failed on both sides (not a change, but still failing): "+strings.Join(both, "; "))
	}
	if len(fixed) > 0 {
		notes = append(notes, "failed in the baseline, ok now: "+strings.Join(fixed, "; "))
	}
	return out, notes
}
