package metrics

import (
	"strings"
	"testing"
)

func TestJudge(t *testing.T) {
	t.Parallel()
	req := func(count, errs int64, kinds map[string]int64) Operation {
		return Operation{Name: "put", Count: count, Errors: errs, ErrorsByKind: kinds}
	}
	tests := []struct {
		name       string
		s          Scenario
		wantStatus string
		wantError  string // substring
	}{
		{"clean", Scenario{Status: StatusOK, Operations: []Operation{req(100, 0, nil)}}, StatusOK, ""},
		{"failed fail check", Scenario{Status: StatusOK, Checks: []Check{{Name: "minority_cannot_commit", Severity: SeverityFail, Detail: "a write succeeded"}}},
			StatusFailed, "check minority_cannot_commit failed: a write succeeded"},
		{"failed warn check", Scenario{Status: StatusOK, Checks: []Check{{Name: "no_leader_election", Severity: SeverityWarn}}}, StatusOK, ""},
		{"passed fail check", Scenario{Status: StatusOK, Checks: []Check{{Name: "majority_commits", Severity: SeverityFail, Passed: true}}}, StatusOK, ""},
		{"81% refused", Scenario{Status: StatusOK, Operations: []Operation{req(19, 81, map[string]int64{"refused": 80, "reset": 1})}},
			StatusFailed, "81.0% of 100 requests failed, most as refused (80), above the 1% error-rate target"},
		{"under the target", Scenario{Status: StatusOK, Operations: []Operation{req(999, 1, map[string]int64{"http_503": 1})}}, StatusOK, ""},
		{"every request failed", Scenario{Status: StatusOK, Operations: []Operation{req(0, 5, map[string]int64{"http_500": 5})}},
			StatusFailed, "every request failed (5: http_500:5)"},
		// 10 failed of 100 requests is 10%, however many phase values the
		// histograms of ttft or itl hold.
		{"phases are not requests", Scenario{Status: StatusOK, Operations: []Operation{
			req(90, 10, map[string]int64{"timeout": 10}),
			{Name: "ttft", PhaseOf: "e2e", Count: 90}, {Name: "itl", PhaseOf: "e2e", Count: 10000}}},
			StatusFailed, "10.0% of 100 requests failed"},
		{"skipped stays skipped", Scenario{Status: StatusSkipped, Checks: []Check{{Name: "x", Severity: SeverityFail}}}, StatusSkipped, ""},
		{"failed keeps its error and adds the check", Scenario{Status: StatusFailed, Error: "timed out",
			Checks: []Check{{Name: "no_acknowledged_write_lost", Severity: SeverityFail, Detail: "3 of 9"}}},
			StatusFailed, "timed out; check no_acknowledged_write_lost failed: 3 of 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			Judge(&s, 1)
			if s.Status != tt.wantStatus || !strings.Contains(s.Error, tt.wantError) {
				t.Errorf("status %s, error %q; want %s containing %q", s.Status, s.Error, tt.wantStatus, tt.wantError)
			}
		})
	}
}

// TestFaultWindowsExcluded: errors inside an injected fault's window do
// not count; errors outside it do.
func TestFaultWindowsExcluded(t *testing.T) {
	t.Parallel()
	// Measurement starts 1 s into the scenario, so the intervals span 1-2,
	// 2-3, 3-4 and 4-5 s of it; the fault runs from 2.5 s to 3.9 s and
	// overlaps the second and third.
	s := Scenario{Status: StatusOK, MeasureOffsetMs: 1000,
		Events: []Event{{OffsetMs: 2500, Kind: "leader_kill_start"}, {OffsetMs: 3900, Kind: "leader_kill_stop"}},
		Operations: []Operation{{Name: "put", Count: 300, Errors: 100, Timeline: []Interval{
			{EndOffsetMs: 1000, DurationMs: 1000, Count: 100},
			{EndOffsetMs: 2000, DurationMs: 1000, Count: 10, Errors: 90, ErrorsByKind: map[string]int64{"http_503": 90}},
			{EndOffsetMs: 3000, DurationMs: 1000, Count: 90, Errors: 10, ErrorsByKind: map[string]int64{"refused": 10}},
			{EndOffsetMs: 4000, DurationMs: 1000, Count: 100},
		}}}}
	tally := RequestErrors(s)
	if tally.Requests != 200 || tally.Errors != 0 || tally.Excluded != 200 {
		t.Fatalf("tally %+v, want 200 requests outside the fault, none failed, 200 excluded", tally)
	}
	Judge(&s, 1)
	if s.Status != StatusOK {
		t.Errorf("status %s (%s): errors during the fault must not fail it", s.Status, s.Error)
	}
	// The same errors before the fault began count.
	s.Events[0].OffsetMs, s.Events[1].OffsetMs = 4100, 4900
	Judge(&s, 1)
	if s.Status != StatusFailed || !strings.Contains(s.Error, "outside the fault windows") || !strings.Contains(s.Error, "http_503") {
		t.Errorf("status %s, error %q: want failed, naming http_503 outside the fault windows", s.Status, s.Error)
	}
}

// A short fault touches every second of a short measurement, so seconds
// cannot judge it: an operation split into fault windows is judged by
// each request's own window, and what failed after the heal counts.
func TestFaultWindowPhasesJudgeEachRequest(t *testing.T) {
	t.Parallel()
	split := func(beforeErr, afterErr int64) Scenario {
		return Scenario{Status: StatusOK, MeasureOffsetMs: 250,
			Events: []Event{{OffsetMs: 500, Kind: "lossy_link_start"}, {OffsetMs: 760, Kind: "lossy_link_stop"}},
			Operations: []Operation{
				{Name: "put", Count: 49, Errors: 52 + beforeErr, Timeline: []Interval{
					{EndOffsetMs: 1000, DurationMs: 1000, Count: 49, Errors: 52 + beforeErr, ErrorsByKind: map[string]int64{"http_503": 52 + beforeErr}},
				}},
				{Name: "put@before", PhaseOf: "put", Count: 25, Errors: beforeErr, ErrorsByKind: kinds(beforeErr)},
				{Name: "put@during", PhaseOf: "put", Count: 24, Errors: 2, ErrorsByKind: map[string]int64{"timeout": 2}},
				{Name: "put@after", PhaseOf: "put", Count: 50 - afterErr, Errors: afterErr, ErrorsByKind: kinds(afterErr)},
			}}
	}
	healed := split(0, 0)
	Judge(&healed, 1)
	if healed.Status != StatusOK {
		t.Errorf("errors only during the fault: status %s (%s), want ok", healed.Status, healed.Error)
	}
	if tally := RequestErrors(healed); tally.Requests != 75 || tally.Excluded != 26 {
		t.Errorf("tally %+v, want the 75 requests before and after, the 26 during left out", tally)
	}
	broken := split(0, 50) // the fault never healed: every request after it failed
	Judge(&broken, 1)
	if broken.Status != StatusFailed || !strings.Contains(broken.Error, "http_503") {
		t.Errorf("every request after the heal failed: status %s (%s), want failed naming http_503", broken.Status, broken.Error)
	}
}

func kinds(n int64) map[string]int64 {
	if n == 0 {
		return nil
	}
	return map[string]int64{"http_503": n}
}

func TestSummaryOfCountsChecks(t *testing.T) {
	t.Parallel()
	run := &Run{Clusters: []Cluster{{Size: 3, Scenarios: []Scenario{
		{Status: StatusOK, Checks: []Check{{Severity: SeverityFail, Passed: true}, {Severity: SeverityWarn}}},
		{Status: StatusFailed, Checks: []Check{{Severity: SeverityFail}}},
		{Status: StatusSkipped},
	}}}}
	got := SummaryOf(run)
	want := Summary{Scenarios: 3, OK: 1, Failed: 1, Skipped: 1, Checks: 3, ChecksFailed: 1, ChecksWarned: 1}
	if got != want {
		t.Errorf("summary %+v, want %+v", got, want)
	}
}

// TestOldFilesReadAsJudged: files written before checks had a severity
// and phases a marker read as they were judged then: checks advisory,
// the phases of inference requests told apart from the requests by name.
func TestOldFilesReadAsJudged(t *testing.T) {
	t.Parallel()
	old := `{"schema_version": 1, "status": "complete", "clusters": [{"size": 3, "scenarios": [
	  {"name": "inference/generate/clients=1", "status": "ok",
	   "checks": [{"name": "no_leader_election", "passed": false}],
	   "operations": [{"name": "e2e", "count": 9, "errors": 1}, {"name": "ttft", "count": 9},
	                  {"name": "itl", "count": 900}, {"name": "e2e@n1", "count": 9}]}]}]}`
	run, err := ReadRun(strings.NewReader(old))
	if err != nil {
		t.Fatal(err)
	}
	s := run.Clusters[0].Scenarios[0]
	if s.Checks[0].Severity != SeverityWarn {
		t.Errorf("check severity %q, want warn", s.Checks[0].Severity)
	}
	for _, op := range s.Operations {
		if want := op.Name != "e2e"; (op.PhaseOf != "") != want {
			t.Errorf("%s: phase_of %q", op.Name, op.PhaseOf)
		}
	}
	if tally := RequestErrors(s); tally.Requests != 10 || tally.Errors != 1 {
		t.Errorf("tally %+v, want 1 error in 10 requests", tally)
	}
	// A file that marks its phases is taken as it is.
	if _, err := ReadRunFile("../../testdata/results-v1.json"); err != nil {
		t.Fatal(err)
	}
}

func TestFormatKindsIsStable(t *testing.T) {
	t.Parallel()
	m := map[string]int64{"reset": 2, "http_503": 5, "eof": 2, "refused": 9}
	for i := 0; i < 20; i++ {
		if got := FormatKinds(m); got != "refused:9 http_503:5 eof:2 reset:2" {
			t.Fatalf("FormatKinds = %q", got)
		}
	}
}
