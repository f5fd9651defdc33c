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
	// P is Fisher's exact test's p-value for a scenario that failed in
	// some, not all, current repetitions.
	P *float64 `json:"p,omitempty"`
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
// that failed on both sides as often as chance allows, or no longer fail.
//
// A scenario that ran in the baseline and is missing now broke. One that
// failed in k of n baseline repetitions and in m of n' current ones broke
// when it failed in every current repetition but passed in at least one
// baseline repetition, or when Fisher's exact test finds the current side
// failing more often than chance would at alpha (one-sided): one failure
// in ten on a shared machine is not a change, four in five against none is.
func broken(base, cur map[Key]*outcome, alpha float64, opt Options) (out []Breakage, notes []string) {
	var keys []Key
	for k := range base {
		keys = append(keys, k)
	}
	sortKeys(keys)
	var both, fixed, chance []string
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
		case c.failed == 0:
		case c.ok == 0:
			out = append(out, Breakage{Size: k.Size, Scenario: k.Scenario, Kind: BrokeFailed, Baseline: baseText,
				Current: fmt.Sprintf("failed in %d of %d repetitions, every one: %s", c.failed, c.failed, c.err), Regression: true})
		default:
			p := fisherMoreFailures(b.failed, b.ok+b.failed, c.failed, c.ok+c.failed)
			now := fmt.Sprintf("failed in %d of %d repetitions (Fisher's exact test, one-sided: p = %.3g, alpha %g): %s",
				c.failed, c.ok+c.failed, p, alpha, c.err)
			if p < alpha {
				out = append(out, Breakage{Size: k.Size, Scenario: k.Scenario, Kind: BrokeFailed, Baseline: baseText, Current: now,
					Regression: true, P: &p})
				continue
			}
			chance = append(chance, fmt.Sprintf("%s (failed %d of %d, before %d of %d; p = %.3g)", k, c.failed, c.ok+c.failed,
				b.failed, b.ok+b.failed, p))
		}
	}
	if len(both) > 0 {
		notes = append(notes, "failed on both sides (not a change, but still failing): "+strings.Join(both, "; "))
	}
	if len(chance) > 0 {
		notes = append(notes, fmt.Sprintf("failed in some repetitions, no more often than chance allows against the baseline (Fisher's exact test at alpha %g; not a regression, but look at why): %s",
			alpha, strings.Join(chance, "; ")))
	}
	if len(fixed) > 0 {
		notes = append(notes, "failed in the baseline, ok now: "+strings.Join(fixed, "; "))
	}
	return out, notes
}
