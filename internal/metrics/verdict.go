package metrics

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
)

// ErrorTally counts a scenario's requests and their failures.
type ErrorTally struct {
	// Requests is successes plus failures of request operations (phases
	// and per-node breakdowns of a request are not requests).
	Requests int64
	Errors   int64
	ByKind   map[string]int64
	// Excluded counts requests left out because they ended inside an
	// injected fault's window (see FaultWindows).
	Excluded int64
}

// Rate returns Errors / Requests, or 0 without requests.
func (t ErrorTally) Rate() float64 {
	if t.Requests == 0 {
		return 0
	}
	return float64(t.Errors) / float64(t.Requests)
}

// Dominant returns the most frequent error kind (ties: the first by name).
func (t ErrorTally) Dominant() (kind string, n int64) {
	for _, k := range SortedKinds(t.ByKind) {
		if t.ByKind[k] > n {
			kind, n = k, t.ByKind[k]
		}
	}
	return kind, n
}

// SortedKinds returns the keys of an errors-by-kind map in name order, so
// output built from it is the same on every run.
func SortedKinds(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// FormatKinds renders an errors-by-kind map as "http_503:3 refused:2",
// most frequent first, ties by name.
func FormatKinds(m map[string]int64) string {
	kinds := SortedKinds(m)
	sort.SliceStable(kinds, func(i, j int) bool { return m[kinds[i]] > m[kinds[j]] })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// FaultWindow is the span of one injected fault, in milliseconds since the
// scenario started (the time base of Events). EndMs < 0: it never ended.
type FaultWindow struct {
	Kind         string
	StartMs      int64
	EndMs        int64
	Node, Detail string
}

// FaultWindows pairs a scenario's "<fault>_start" events with their
// "<fault>_stop" events. A fault scenario records the stop once the
// cluster has recovered (restarted and rejoined, healed and caught up), so
// the window covers the fault's whole effect.
func FaultWindows(s Scenario) []FaultWindow {
	var out []FaultWindow
	for _, d := range s.NodeDeaths { // a death is a fault nobody injected: it never ends
		out = append(out, FaultWindow{Kind: "node_death", StartMs: d.OffsetMs, EndMs: -1, Node: d.Node, Detail: d.State})
	}
	open := map[string]int{}
	for _, e := range s.Events {
		switch {
		case strings.HasSuffix(e.Kind, "_start"):
			kind := strings.TrimSuffix(e.Kind, "_start")
			open[kind] = len(out)
			out = append(out, FaultWindow{Kind: kind, StartMs: e.OffsetMs, EndMs: -1, Node: e.Node, Detail: e.Detail})
		case strings.HasSuffix(e.Kind, "_stop"):
			kind := strings.TrimSuffix(e.Kind, "_stop")
			if i, ok := open[kind]; ok {
				out[i].EndMs = e.OffsetMs
				delete(open, kind)
			}
		}
	}
	return out
}

// IsRequest reports whether op counts requests (not a phase of one).
func IsRequest(op Operation) bool { return op.PhaseOf == "" }

// The windows a fault scenario splits a request operation's requests
// into, as phases named op@window: before the fault (answered before it
// began), during it (sent before it was over and answered after it
// began) and after it (sent once it was over).
const (
	WindowBefore = "before"
	WindowDuring = "during"
	WindowAfter  = "after"
)

// Windows lists the fault windows in order.
func Windows() []string { return []string{WindowBefore, WindowDuring, WindowAfter} }

// WindowOf returns the fault window a phase of a request operation
// stands for ("put@after" of "put": after), or "" for any other phase.
func WindowOf(op Operation) string {
	base, w, ok := strings.Cut(op.Name, "@")
	if !ok || op.PhaseOf == "" || base != op.PhaseOf {
		return ""
	}
	switch w {
	case WindowBefore, WindowDuring, WindowAfter:
		return w
	}
	return ""
}

// RequestErrors tallies s's request operations. Where the scenario
// injected faults, errors the fault caused are what the scenario measures,
// not a failing of the target: an operation split into fault windows
// counts the requests of its before and after windows in full, each
// judged by its own start and end, and leaves out those the fault touched
// (during); an operation without windows counts its per-second intervals
// that do not overlap a fault window.
func RequestErrors(s Scenario) ErrorTally {
	t := ErrorTally{ByKind: map[string]int64{}}
	windows := FaultWindows(s)
	byWindow := map[string]map[string]Operation{} // request op -> window -> phase
	for _, op := range s.Operations {
		if w := WindowOf(op); w != "" {
			if byWindow[op.PhaseOf] == nil {
				byWindow[op.PhaseOf] = map[string]Operation{}
			}
			byWindow[op.PhaseOf][w] = op
		}
	}
	count := func(op Operation) {
		t.Requests += op.Count + op.Errors
		t.Errors += op.Errors
		for k, v := range op.ErrorsByKind {
			t.ByKind[k] += v
		}
	}
	for _, op := range s.Operations {
		if !IsRequest(op) {
			continue
		}
		if len(windows) == 0 {
			count(op)
			continue
		}
		if split, ok := byWindow[op.Name]; ok {
			count(split[WindowBefore])
			count(split[WindowAfter])
			t.Excluded += split[WindowDuring].Count + split[WindowDuring].Errors
			continue
		}
		for _, iv := range op.Timeline {
			n := iv.Count + iv.Errors
			if overlaps(s.MeasureOffsetMs+iv.EndOffsetMs-iv.DurationMs, s.MeasureOffsetMs+iv.EndOffsetMs, windows) {
				t.Excluded += n
				continue
			}
			t.Requests += n
			t.Errors += iv.Errors
			for k, v := range iv.ErrorsByKind {
				t.ByKind[k] += v
			}
		}
	}
	return t
}

func overlaps(from, to int64, windows []FaultWindow) bool {
	for _, w := range windows {
		if to >= w.StartMs && (w.EndMs < 0 || from <= w.EndMs) {
			return true
		}
	}
	return false
}

// Judge sets a finished scenario's status from what it recorded: a failed
// check of severity fail, requests failing above maxErrorPercent (outside
// fault windows; 0 turns that rule off), or every request failing, each
// fail it with the reason. Skipped scenarios are left alone. The runner
// calls it on every result, so the status in a results file is the verdict.
func Judge(s *Scenario, maxErrorPercent float64) {
	if s.Status == StatusSkipped {
		return
	}
	var reasons []string
	for _, c := range s.Checks {
		if !c.Passed && c.Severity == SeverityFail {
			reasons = append(reasons, fmt.Sprintf("check %s failed: %s", c.Name, c.Detail))
		}
	}
	t := RequestErrors(*s)
	switch {
	case len(s.NodeDeaths) > 0:
		// The scenario failed for the death; the errors after it are the
		// death's, not the target's.
	case t.Requests > 0 && t.Errors == t.Requests:
		reasons = append(reasons, fmt.Sprintf("every request failed (%d: %s)", t.Errors, FormatKinds(t.ByKind)))
	case maxErrorPercent > 0 && 100*t.Rate() > maxErrorPercent:
		kind, n := t.Dominant()
		where := ""
		if t.Excluded > 0 {
			where = " outside the fault windows"
		}
		reasons = append(reasons, fmt.Sprintf("%.1f%% of %d requests%s failed, most as %s (%d), above the %g%% error-rate target (targets.error_rate_percent)",
			100*t.Rate(), t.Requests, where, kind, n, maxErrorPercent))
	}
	if len(reasons) == 0 {
		return
	}
	if s.Status == StatusOK {
		s.Status, s.Error = StatusFailed, strings.Join(reasons, "; ")
		return
	}
	s.Error = strings.Join(append([]string{s.Error}, reasons...), "; ")
}

// SummaryOf counts a run's scenario outcomes and checks.
func SummaryOf(run *Run) Summary {
	var s Summary
	for _, c := range run.Clusters {
		for _, sc := range c.Scenarios {
			s.Scenarios++
			switch sc.Status {
			case StatusOK:
				s.OK++
			case StatusFailed:
				s.Failed++
			default:
				s.Skipped++
			}
			for _, ch := range sc.Checks {
				s.Checks++
				switch {
				case ch.Passed:
				case ch.Severity == SeverityFail:
					s.ChecksFailed++
				default:
					s.ChecksWarned++
				}
			}
		}
	}
	return s
}

// ScenarioSeed derives the seed of one scenario repetition from the run's
// seed, so a run given the same seed draws the same arrivals and picks.
func ScenarioSeed(runSeed uint64, size int, name string, rep int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%s/%d", runSeed, size, name, rep)
	return h.Sum64()
}

// upgrade fills what files written before a field existed leave empty, so
// they read as they were judged: checks without a severity never changed
// a status (warn), and phases of inference requests were told apart by
// name only.
func upgrade(run *Run) {
	phases := false
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			for _, op := range s.Operations {
				phases = phases || op.PhaseOf != ""
			}
		}
	}
	for ci := range run.Clusters {
		for si := range run.Clusters[ci].Scenarios {
			s := &run.Clusters[ci].Scenarios[si]
			for i := range s.Checks {
				if s.Checks[i].Severity == "" {
					s.Checks[i].Severity = SeverityWarn
				}
			}
			if phases {
				continue
			}
			for i := range s.Operations {
				if n := s.Operations[i].Name; n == "ttft" || n == "tpot" || n == "itl" || strings.HasPrefix(n, "e2e@") {
					s.Operations[i].PhaseOf = "e2e"
				}
			}
		}
	}
}

// Sides of an interleaved A/B run, as its clusters name them.
const (
	SideBaseline = "baseline"
	SideCurrent  = "current"
)

// IsAB reports whether run is an interleaved A/B run (run --ab).
func IsAB(run *Run) bool { return run.Baseline != nil }

// SplitSides returns the two sides of an interleaved A/B run as runs of
// their own, baseline first, so compare and report judge them like two
// files; ok is false for a run that is not one.
func SplitSides(run *Run) (base, cur *Run, ok bool) {
	if !IsAB(run) {
		return nil, nil, false
	}
	side := func(name string, target Target) *Run {
		out := *run
		out.Target, out.Baseline, out.Clusters = target, nil, nil
		for _, c := range run.Clusters {
			if c.Side == name {
				out.Clusters = append(out.Clusters, c)
			}
		}
		out.Summary = SummaryOf(&out)
		return &out
	}
	return side(SideBaseline, *run.Baseline), side(SideCurrent, run.Target), true
}
