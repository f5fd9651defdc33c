package report

import (
	"fmt"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
)

// FaultRow is what the clients of a fault scenario saw in one window:
// before the fault, during it (requests it touched), after it.
type FaultRow struct {
	Size       int     `json:"size"`
	Scenario   string  `json:"scenario"`
	Repetition int     `json:"repetition"`
	Window     string  `json:"window"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"`
	P50Ms      float64 `json:"p50_ms"`
	P99Ms      float64 `json:"p99_ms"`
	ErrorPct   float64 `json:"error_pct"`
	// Errors names the error kinds, most frequent first.
	Errors string `json:"errors,omitempty"`
}

// ConsistencyRow is the linearizability check of one scenario run.
type ConsistencyRow struct {
	Size          int     `json:"size"`
	Scenario      string  `json:"scenario"`
	Repetition    int     `json:"repetition"`
	Verdict       string  `json:"verdict"`
	Operations    int     `json:"operations"`
	Ambiguous     int     `json:"ambiguous"`
	CheckMs       float64 `json:"check_ms"`
	Visualization string  `json:"visualization,omitempty"`
}

// faults collects the windows of the fault scenarios (operations named
// op@window) and every scenario's consistency check.
func (r *Report) faults() {
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			if cs := s.Consistency; cs != nil {
				r.Consistency = append(r.Consistency, ConsistencyRow{Size: c.Size, Scenario: s.Name, Repetition: s.Repetition,
					Verdict: cs.Verdict, Operations: cs.Operations, Ambiguous: cs.Ambiguous, CheckMs: cs.CheckMs, Visualization: cs.Visualization})
			}
			for _, op := range s.Operations {
				_, window, ok := strings.Cut(op.Name, "@")
				if !ok || op.PhaseOf == "" || op.WindowMs == 0 {
					continue
				}
				r.Faults = append(r.Faults, FaultRow{Size: c.Size, Scenario: s.Name, Repetition: s.Repetition, Window: window,
					Seconds: float64(op.WindowMs) / 1000, OpsPerSec: op.ThroughputOpsPerSec, P50Ms: ms(op.Latency.P50Ns),
					P99Ms: ms(op.Latency.P99Ns), ErrorPct: 100 * op.ErrorRate(), Errors: metrics.FormatKinds(op.ErrorsByKind)})
			}
		}
	}
}

// faultSections are the Faults and Consistency sections, when the run has them.
func (r *Report) faultSections() []section {
	var out []section
	if len(r.Faults) > 0 {
		s := section{Title: "Faults: before, during, after", Lines: []string{
			"The fault scenarios' requests by their relation to the fault: before it (answered before it began), during it (touched by it: sent before it was over, healed, restarted or caught up, and answered after it began) and after it (sent once it was over). Throughput is over each window's own length; latency is from the intended send time."},
			Head: []string{"nodes", "scenario", "#", "window", "s", "ops/s", "p50 ms", "p99 ms", "errors %", "error kinds"}}
		for _, f := range r.Faults {
			s.Rows = append(s.Rows, []string{fmt.Sprint(f.Size), f.Scenario, fmt.Sprint(f.Repetition), f.Window,
				fmt.Sprintf("%.1f", f.Seconds), f0(f.OpsPerSec), f2(f.P50Ms), f2(f.P99Ms), f2(f.ErrorPct), s.footnote(f.Errors)})
		}
		out = append(out, s)
	}
	if len(r.Consistency) > 0 {
		s := section{Title: "Consistency", Lines: []string{
			"The key-value history recorded beside the scenario's load, checked for linearizability (porcupine). Ambiguous writes (timed out, outcome unknown) may have taken effect at any time after they were sent. Anything but linearizable fails the scenario."},
			Head: []string{"nodes", "scenario", "#", "verdict", "operations", "ambiguous", "check ms", "drawing of the violation"}}
		for _, c := range r.Consistency {
			s.Rows = append(s.Rows, []string{fmt.Sprint(c.Size), c.Scenario, fmt.Sprint(c.Repetition), strings.ToUpper(c.Verdict),
				fmt.Sprint(c.Operations), fmt.Sprint(c.Ambiguous), fmt.Sprintf("%.1f", c.CheckMs), c.Visualization})
		}
		out = append(out, s)
	}
	return out
}
