package metrics

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/config"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// fixtureRun builds a deterministic Run with one open-loop operation.
func fixtureRun(t testing.TB) *Run {
	rec := NewRecorder(2, true)
	start := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rec.Start(start)
	op := rec.Op("health_check")
	for i := int64(1); i <= 1000; i++ {
		op.Shard(int(i)).RecordOpen(i*10_000+50_000, i*10_000, true)
	}
	op.Shard(0).Error("http_503")
	op.Shard(1).Error(KindRateLimited)
	rec.Tick(start.Add(time.Second))
	snap := op.Snapshot(time.Second)
	return &Run{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "odbench", Version: "v0.0.0-fixture"},
		Host:          Host{Hostname: "fixture", OS: "linux", Arch: "amd64", Cores: 2, GoVersion: "go1.26"},
		Config:        config.Default(),
		Target:        Target{Driver: "local", Description: "fixture"},
		Status:        RunComplete,
		StartedAt:     start,
		EndedAt:       start.Add(2 * time.Second),
		Clusters: []Cluster{{Size: 1, StartupMs: 120, Nodes: []NodeInfo{{ID: "n1", URL: "http://127.0.0.1:1", PID: 42}},
			Scenarios: []Scenario{{
				Name: "api/health_check/rate=1000", Category: "api", Repetition: 1, Status: StatusOK,
				Params: map[string]string{"mode": "open"}, StartedAt: start, EndedAt: start.Add(2 * time.Second),
				WarmupNs: 0, MeasuredNs: int64(time.Second),
				Load:       &Load{Mode: "open", RateOpsPerSec: 1000, Arrival: "constant", MaxInFlight: 2},
				Operations: []Operation{snap},
				Scalars:    []Scalar{{Name: "leader_elections", Value: Float(0), Unit: "count"}, {Name: "ttft_ms", Unit: "ms", Reason: "not an inference scenario"}},
			}}}},
		Summary: Summary{Scenarios: 1, OK: 1},
	}
}

func TestRecorderSnapshot(t *testing.T) {
	run := fixtureRun(t)
	op := run.Clusters[0].Scenarios[0].Operations[0]
	if op.Count != 1000 || op.Errors != 2 || op.RateLimited != 1 {
		t.Fatalf("count %d, errors %d, rate-limited %d; want 1000, 2, 1", op.Count, op.Errors, op.RateLimited)
	}
	if op.ThroughputOpsPerSec != 1000 {
		t.Errorf("throughput = %v, want 1000 (rate-limited answers are not throughput)", op.ThroughputOpsPerSec)
	}
	// Corrected values are the uncorrected ones plus 50 µs.
	if d := op.Latency.P50Ns - op.Uncorrected.P50Ns; d < 45_000 || d > 55_000 {
		t.Errorf("corrected p50 %d - uncorrected p50 %d = %d, want about 50000", op.Latency.P50Ns, op.Uncorrected.P50Ns, d)
	}
	if len(op.Timeline) != 1 || op.Timeline[0].Count != 1000 {
		t.Errorf("timeline = %+v, want one interval of 1000", op.Timeline)
	}
	h, err := DecodeHistogram(op.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalCount() != 1000 {
		t.Errorf("decoded histogram holds %d values, want 1000", h.TotalCount())
	}
}

// The first second of a measurement holds requests begun in the warm-up:
// they count as completions of that second, as of the window.
func TestTimelineCountsCompletionsOfTheWarmup(t *testing.T) {
	rec := NewRecorder(1, true)
	rec.CountWindow()
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	rec.Start(start)
	op := rec.Op("x")
	sh := op.Shard(0)
	for i := 0; i < 80; i++ {
		sh.Completed() // begun in the warm-up, done in the first second
	}
	for i := 0; i < 120; i++ {
		sh.RecordOpen(200_000_000, 200_000_000, true)
	}
	rec.Tick(start.Add(time.Second))
	for i := 0; i < 200; i++ {
		sh.RecordOpen(200_000_000, 200_000_000, true)
	}
	sh.RecordOpen(200_000_000, 200_000_000, false) // done after the window: latency, not throughput
	rec.Tick(start.Add(2 * time.Second))
	s := op.Snapshot(2 * time.Second)
	if len(s.Timeline) != 2 || s.Timeline[0].Count != 200 || s.Timeline[1].Count != 200 {
		t.Fatalf("timeline %+v, want two seconds of 200 completions", s.Timeline)
	}
	if s.Count != 321 || s.ThroughputOpsPerSec != 200 {
		t.Errorf("count %d (latencies), throughput %v; want 321 and 200", s.Count, s.ThroughputOpsPerSec)
	}
}

func TestOutOfRangeCounted(t *testing.T) {
	rec := NewRecorder(1, false)
	op := rec.Op("x")
	op.Shard(0).Record(5_000)
	op.Shard(0).Record(HistMaxNs * 2)
	op.Shard(0).Record(-1)
	rec.Tick(time.Now())
	s := op.Snapshot(time.Second)
	if s.Count != 1 || s.OutOfRange != 2 {
		t.Errorf("count %d, out of range %d; want 1 and 2", s.Count, s.OutOfRange)
	}
}

func TestConcurrentRecordAndTick(t *testing.T) {
	rec := NewRecorder(8, false)
	op := rec.Op("x")
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := op.Shard(w)
			for i := 0; i < 10_000; i++ {
				sh.Record(int64(1_000 + i))
			}
		}()
	}
	stop := make(chan struct{})
	ticks := make(chan struct{})
	go func() {
		defer close(ticks)
		for {
			select {
			case <-stop:
				return
			default:
				rec.Tick(time.Now())
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-ticks
	rec.Tick(time.Now())
	if got := op.Snapshot(time.Second).Count; got != 80_000 {
		t.Errorf("count = %d, want 80000: values lost between shards and intervals", got)
	}
}

func TestRoundTrip(t *testing.T) {
	run := fixtureRun(t)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteRun(path, run); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRunFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Config comes back as generic JSON; compare the rest.
	got.Config, run.Config = nil, nil
	if !reflect.DeepEqual(got, run) {
		t.Errorf("round trip changed the run:\n got %+v\nwant %+v", got, run)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the write left %d files, want only the results file", len(entries))
	}
}

// TestFixtureV1 keeps every past schema readable: testdata/results-v1.json
// must load forever. Regenerate with -update only when the fixture's
// builder changes, never to paper over a reader change.
func TestFixtureV1(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "results-v1.json")
	if *update {
		if err := WriteRun(path, fixtureRun(t)); err != nil {
			t.Fatal(err)
		}
	}
	run, err := ReadRunFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if run.SchemaVersion != 1 || len(run.Clusters) != 1 || run.Clusters[0].Scenarios[0].Operations[0].Count != 1000 {
		t.Errorf("fixture read as %+v", run)
	}
	if _, err := DecodeHistogram(run.Clusters[0].Scenarios[0].Operations[0].Histogram); err != nil {
		t.Errorf("fixture histogram: %v", err)
	}
}

func TestReadRunRefuses(t *testing.T) {
	tests := []struct {
		name, in string
		want     error
		msg      string
	}{
		{"newer", `{"schema_version": 2}`, ErrNewerSchema, "schema_version 2, but this odbench reads up to 1"},
		{"missing", `{"tool": {}}`, ErrNotResults, "no schema_version"},
		{"zero", `{"schema_version": 0}`, ErrNotResults, "schema_version 0"},
		{"not json", `hello`, ErrNotResults, ""},
		{"wrong type", `{"schema_version": 1, "clusters": 5}`, ErrNotResults, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadRun(strings.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("err = %q, want it to say %q", err, tt.msg)
			}
		})
	}
}

func TestDecodeHistogramRefuses(t *testing.T) {
	for _, in := range []string{"", "!!!", "aGVsbG8=", strings.Repeat("A", maxEncodedLen+4)} {
		if _, err := DecodeHistogram(in); !errors.Is(err, ErrBadHistogram) {
			t.Errorf("DecodeHistogram(%.20q) = %v, want ErrBadHistogram", in, err)
		}
	}
}

func FuzzReadRun(f *testing.F) {
	var buf bytes.Buffer
	run := fixtureRun(f)
	_ = WriteRun(filepath.Join(f.TempDir(), "seed.json"), run)
	data, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "results-v1.json"))
	buf.Write(data)
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema_version": 1}`))
	f.Add([]byte(`{"schema_version": 3}`))
	f.Add([]byte(`{"schema_version": 1, "clusters": [{"scenarios": [{"operations": [{"histogram": "HISTFAAAAA=="}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		run, err := ReadRun(bytes.NewReader(data))
		if err != nil {
			return
		}
		if run.SchemaVersion < 1 || run.SchemaVersion > SchemaVersion {
			t.Fatalf("accepted schema_version %d", run.SchemaVersion)
		}
		for _, c := range run.Clusters {
			for _, s := range c.Scenarios {
				for _, op := range s.Operations {
					_, _ = DecodeHistogram(op.Histogram) // must not panic or blow up memory
				}
			}
		}
	})
}

// BenchmarkRecord is the hot path: one latency into a shard. Target < 100 ns.
func BenchmarkRecord(b *testing.B) {
	rec := NewRecorder(1, false)
	sh := rec.Op("x").Shard(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sh.Record(int64(1_000 + i%1_000_000))
	}
}

// BenchmarkRecordParallel records from every core into striped shards.
func BenchmarkRecordParallel(b *testing.B) {
	rec := NewRecorder(64, false)
	op := rec.Op("x")
	var next int64
	var mu sync.Mutex
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		sh := op.Shard(int(next))
		next++
		mu.Unlock()
		i := int64(0)
		for pb.Next() {
			sh.Record(1_000 + i%1_000_000)
			i++
		}
	})
}
