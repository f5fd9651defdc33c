package monitor

import (
	"fmt"
	"time"

	"github.com/odbench/odbench/internal/config"
)

// Alert is a rule that is firing, or that resolved at the last evaluation.
type Alert struct {
	Rule      string    `json:"rule"`
	Severity  string    `json:"severity"`
	Metric    string    `json:"metric"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Since     time.Time `json:"since"` // when its condition began to hold
	// Ended is when a resolved alert stopped holding (zero while firing).
	Ended time.Time `json:"ended,omitzero"`
	// State is "firing" or "resolved".
	State string `json:"state"`
	// Changed: the rule began firing, or resolved, at this evaluation.
	Changed bool   `json:"changed"`
	Message string `json:"message"`
}

// Engine evaluates alert rules on snapshots.
type Engine struct {
	rules   []config.AlertRule
	pending map[string]time.Time // rule -> when its condition began to hold
	firing  map[string]time.Time // rule -> when it began to fire (its condition's start)
}

// NewEngine returns an engine for rules.
func NewEngine(rules []config.AlertRule) *Engine {
	return &Engine{rules: rules, pending: map[string]time.Time{}, firing: map[string]time.Time{}}
}

// Evaluate applies the rules to s and returns the firing alerts plus any
// that resolved now. A rule whose metric is absent neither fires nor
// resolves: there is nothing to judge.
func (e *Engine) Evaluate(s Snapshot) []Alert {
	var out []Alert
	for _, r := range e.rules {
		v, ok := s.Metrics[r.Metric]
		if !ok {
			continue
		}
		holds := (r.Condition == ">" && v > r.Threshold) || (r.Condition == "<" && v < r.Threshold)
		if !holds {
			delete(e.pending, r.Name)
			if since, ok := e.firing[r.Name]; ok {
				// A resolved alert keeps the start it fired with; it ends now.
				delete(e.firing, r.Name)
				out = append(out, Alert{Rule: r.Name, Severity: r.Severity, Metric: r.Metric, Value: v, Threshold: r.Threshold,
					Since: since, Ended: s.At, State: "resolved", Changed: true, Message: fmt.Sprintf("%s back to %.2f", r.Metric, v)})
			}
			continue
		}
		since, seen := e.pending[r.Name]
		if !seen {
			since = s.At
			e.pending[r.Name] = since
		}
		if s.At.Sub(since) >= r.For {
			_, was := e.firing[r.Name]
			changed := !was
			e.firing[r.Name] = since
			out = append(out, Alert{Rule: r.Name, Severity: r.Severity, Metric: r.Metric, Value: v, Threshold: r.Threshold,
				Since: since, State: "firing", Changed: changed,
				Message: fmt.Sprintf("%s is %.2f %s %g for %v", r.Metric, v, r.Condition, r.Threshold, s.At.Sub(since).Round(time.Second))})
		}
	}
	return out
}
