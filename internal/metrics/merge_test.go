package metrics

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func runWith(values []int64, rep int) *Run {
	rec := NewRecorder(1, false)
	op := rec.Op("get")
	for _, v := range values {
		op.Shard(0).Record(v)
	}
	rec.Tick(time.Now())
	snap := op.Snapshot(time.Second)
	return &Run{SchemaVersion: 1, Status: RunComplete, Clusters: []Cluster{{Size: 3, Scenarios: []Scenario{
		{Name: "api/x", Repetition: rep, Status: StatusOK, Operations: []Operation{snap}}}}}}
}

func TestMergeAddsHistogramsExactly(t *testing.T) {
	// Machine A saw 900 fast requests, machine B 100 slow ones: the merged
	// p95 must be slow, which averaging percentiles would never give.
	var fast, slow []int64
	for i := 0; i < 900; i++ {
		fast = append(fast, 1_000_000)
	}
	for i := 0; i < 100; i++ {
		slow = append(slow, 50_000_000)
	}
	m, err := Merge([]*Run{runWith(fast, 1), runWith(slow, 1)}, []string{"a.json", "b.json"}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	op := m.Clusters[0].Scenarios[0].Operations[0]
	if op.Count != 1000 || op.ThroughputOpsPerSec != 1000 {
		t.Errorf("count %d, throughput %v; want 1000 and 1000 (sums)", op.Count, op.ThroughputOpsPerSec)
	}
	if p50 := time.Duration(op.Latency.P50Ns); p50 > 2*time.Millisecond {
		t.Errorf("merged p50 = %v, want about 1ms", p50)
	}
	if p95 := time.Duration(op.Latency.P95Ns); p95 < 45*time.Millisecond {
		t.Errorf("merged p95 = %v, want about 50ms (the slow machine's tenth of the requests)", p95)
	}
	h, err := DecodeHistogram(op.Histogram)
	if err != nil || h.TotalCount() != 1000 {
		t.Errorf("merged histogram: %v, %d values", err, h.TotalCount())
	}
	if len(m.Warnings) == 0 || !strings.Contains(m.Warnings[len(m.Warnings)-1], "merged from a.json") {
		t.Errorf("warnings %q do not say what was merged", m.Warnings)
	}
}

func TestMergeRefusesDifferentPlans(t *testing.T) {
	_, err := Merge([]*Run{runWith([]int64{1000}, 1), runWith([]int64{1000}, 2)}, []string{"a.json", "b.json"}, MergeOptions{})
	if !errors.Is(err, ErrPlanMismatch) || !strings.Contains(err.Error(), "api/x #1 is only in a.json") {
		t.Fatalf("err = %v, want a plan mismatch naming the difference", err)
	}
}

// TestMergeAddsTheLoad: two machines each running 100/s with 8 workers
// applied 200/s with 16; their late, dropped and intended starts add up,
// and a check failed on one machine failed the merged scenario.
func TestMergeAddsTheLoad(t *testing.T) {
	a, b := runWith([]int64{1000}, 1), runWith([]int64{1000}, 1)
	a.Clusters[0].Scenarios[0].Load = &Load{Mode: "open", Arrival: "constant", RateOpsPerSec: 100, MaxInFlight: 8,
		IntendedStarts: 100, LateStarts: 3, DroppedStarts: 1}
	b.Clusters[0].Scenarios[0].Load = &Load{Mode: "open", Arrival: "constant", RateOpsPerSec: 100, MaxInFlight: 8,
		IntendedStarts: 100, LateStarts: 2, DroppedStarts: 4}
	b.Clusters[0].Scenarios[0].Status = StatusFailed
	b.Clusters[0].Scenarios[0].Checks = []Check{{Name: "majority_commits", Severity: SeverityFail, Detail: "x"}}
	m, err := Merge([]*Run{a, b}, []string{"a.json", "b.json"}, MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Clusters[0].Scenarios[0]
	want := Load{Mode: "open", Arrival: "constant", RateOpsPerSec: 200, MaxInFlight: 16, IntendedStarts: 200, LateStarts: 5, DroppedStarts: 5}
	if s.Load == nil || s.Load.RateOpsPerSec != want.RateOpsPerSec || s.Load.MaxInFlight != want.MaxInFlight ||
		s.Load.IntendedStarts != want.IntendedStarts || s.Load.LateStarts != want.LateStarts || s.Load.DroppedStarts != want.DroppedStarts {
		t.Errorf("merged load %+v, want %+v", s.Load, want)
	}
	if s.Status != StatusFailed || len(s.Checks) != 1 || m.Summary.Failed != 1 || m.Summary.ChecksFailed != 1 {
		t.Errorf("status %s, checks %+v, summary %+v: want the failure and its check carried over", s.Status, s.Checks, m.Summary)
	}
	if a.Clusters[0].Scenarios[0].Load.RateOpsPerSec != 100 {
		t.Error("merge changed its input")
	}
}

// shard makes shard i of n of one plan: one scenario measured from start
// with rps requests per second, or skipped.
func shard(i, n int, start time.Time, skipped bool) *Run {
	r := runWith([]int64{1_000_000, 2_000_000}, 1)
	r.Shard = &ShardInfo{Index: i, Count: n, PlanHash: "plan-a"}
	s := &r.Clusters[0].Scenarios[0]
	s.StartedAt, s.MeasureOffsetMs, s.MeasuredNs = start, 100, int64(time.Second)
	s.Operations[0].ThroughputOpsPerSec = 100
	s.Scalars = []Scalar{{Name: "tokens_per_s", Value: Float(50), Unit: "tokens/s"}, {Name: "p99_ratio", Value: Float(2), Unit: "ratio"}}
	if skipped {
		s.Status, s.Reason, s.Operations, s.Scalars = StatusSkipped, "runs on shard 0 only", nil, nil
	}
	return r
}

func TestMergeShards(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	names := []string{"s2.json", "s0.json", "s1.json"}
	m, err := Merge([]*Run{shard(2, 3, t0.Add(30*time.Millisecond), false), shard(0, 3, t0, false), shard(1, 3, t0.Add(250*time.Millisecond), true)},
		names, MergeOptions{MaxSkew: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := m.Clusters[0].Scenarios[0]
	if s.Status != StatusOK || s.Operations[0].Count != 4 || s.Operations[0].ThroughputOpsPerSec != 200 {
		t.Errorf("merged %s, count %d, %v/s: want ok from the two shards that ran it, 4 requests, 200/s",
			s.Status, s.Operations[0].Count, s.Operations[0].ThroughputOpsPerSec)
	}
	if *s.Scalars[0].Value != 100 || *s.Scalars[1].Value != 2 {
		t.Errorf("scalars %v %v: a rate sums (100), a ratio does not (2)", *s.Scalars[0].Value, *s.Scalars[1].Value)
	}
	if s.ShardSkewMs == nil || *s.ShardSkewMs != 30 || len(s.Warnings) != 0 {
		t.Errorf("skew %v, warnings %q: want 30 ms between the shards that ran it, under the limit", s.ShardSkewMs, s.Warnings)
	}
	if m.Shard == nil || m.Shard.Index != -1 || m.Shard.Count != 3 {
		t.Errorf("merged shard info %+v", m.Shard)
	}

	late := shard(1, 3, t0.Add(250*time.Millisecond), false)
	m, err = Merge([]*Run{shard(0, 3, t0, false), late, shard(2, 3, t0, false)}, names, MergeOptions{MaxSkew: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if w := m.Clusters[0].Scenarios[0].Warnings; len(w) != 1 || !strings.Contains(w[0], "250ms apart, more than merge.max_skew 100ms") {
		t.Errorf("warnings %q: want the skew above the limit", w)
	}
}

func TestMergeRefusesIncompleteShards(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	other := shard(2, 3, t0, false)
	other.Shard.PlanHash = "plan-b"
	for _, tc := range []struct {
		name string
		runs []*Run
		want string
	}{
		{"missing", []*Run{shard(0, 3, t0, false), shard(2, 3, t0, false)}, "shard 1 of 3 is missing"},
		{"twice", []*Run{shard(0, 3, t0, false), shard(1, 3, t0, false), shard(1, 3, t0, false), shard(2, 3, t0, false)}, "shard 1 is given 2 times"},
		{"other plan", []*Run{shard(0, 3, t0, false), shard(1, 3, t0, false), other}, "ran plan plan-b"},
		{"not a shard", []*Run{shard(0, 2, t0, false), runWith([]int64{1}, 1)}, "is no shard"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := make([]string, len(tc.runs))
			for i := range names {
				names[i] = "f" + string(rune('0'+i)) + ".json"
			}
			_, err := Merge(tc.runs, names, MergeOptions{})
			if !errors.Is(err, ErrShards) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrShards saying %q", err, tc.want)
			}
		})
	}
}
