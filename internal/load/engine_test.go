package load

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fasthttp keeps one goroutine for the whole process once it has dialled.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreTopFunction(GoleakIgnore)) }

// TestClosedLoopConcurrency checks that a closed loop keeps exactly N
// operations outstanding: never more, and all N at some point.
func TestClosedLoopConcurrency(t *testing.T) {
	t.Parallel()
	for _, workers := range []int{1, 4, 16} {
		t.Run("workers="+strconv.Itoa(workers), func(t *testing.T) {
			t.Parallel()
			var cur, peak atomic.Int64
			op := Operation{Name: "sleep", Do: func(ctx context.Context) error {
				n := cur.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				cur.Add(-1)
				return nil
			}}
			res, err := RunClosed(context.Background(), Closed{Workers: workers, Duration: 300 * time.Millisecond}, op)
			if err != nil {
				t.Fatal(err)
			}
			if got := peak.Load(); got != int64(workers) {
				t.Errorf("peak concurrency = %d, want exactly %d", got, workers)
			}
			ops := res.Operations()
			if len(ops) != 1 || ops[0].Count == 0 {
				t.Fatalf("operations = %+v, want one with a count", ops)
			}
			if ops[0].Histogram == "" {
				t.Error("no histogram stored")
			}
		})
	}
}

// TestOpenLoopStall: a server that stalls once for 500 ms behind a single
// connection. The corrected p99 (from the intended start) shows the stall;
// the uncorrected one (from the actual start) hides it, as in wrk2.
func TestOpenLoopStall(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 50 {
			time.Sleep(500 * time.Millisecond)
		}
	}))
	defer srv.Close()
	client := NewHTTPClient(1, 5*time.Second)
	defer client.CloseIdleConnections()
	op := Operation{Name: "get", Do: func(ctx context.Context) error { return Get(ctx, client, srv.URL) }}
	res, err := RunOpen(context.Background(), Open{Rate: 100, Duration: 3 * time.Second, MaxInFlight: 1}, op)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Operations()[0]
	if got.Uncorrected == nil {
		t.Fatal("open loop stored no uncorrected view")
	}
	// About 50 of 300 requests wait behind the stall when corrected; 1 when not.
	if p99 := time.Duration(got.Latency.P99Ns); p99 < 250*time.Millisecond {
		t.Errorf("corrected p99 = %v, want the 500ms stall to show (>= 250ms)", p99)
	}
	if p99 := time.Duration(got.Uncorrected.P99Ns); p99 > 250*time.Millisecond {
		t.Errorf("uncorrected p99 = %v, want the single stalled request hidden (< 250ms)", p99)
	}
	if got.Uncorrected.MaxNs < int64(400*time.Millisecond) {
		t.Errorf("uncorrected max = %v, want the stalled request itself visible", time.Duration(got.Uncorrected.MaxNs))
	}
	if res.Load.LateStarts == 0 {
		t.Error("no late starts counted behind a 500ms stall")
	}
}

// TestOpenLoopDropped: with every worker blocked until the end, the starts
// that could not begin are counted as dropped, and the blocked operation as
// unfinished.
func TestOpenLoopDropped(t *testing.T) {
	t.Parallel()
	block := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(block) })
	op := Operation{Name: "hang", Do: func(ctx context.Context) error {
		select {
		case <-block:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	res, err := RunOpen(context.Background(), Open{Rate: 100, Duration: 500 * time.Millisecond, MaxInFlight: 1,
		Drain: 100 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Load.DroppedStarts; d < 30 {
		t.Errorf("dropped starts = %d, want about 49", d)
	}
	got := res.Operations()[0]
	if got.ErrorsByKind[KindUnfinished] != 1 {
		t.Errorf("errors = %v, want one %q", got.ErrorsByKind, KindUnfinished)
	}
}

func TestWarmupDiscarded(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	op := Operation{Name: "count", Do: func(ctx context.Context) error {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	}}
	res, err := RunClosed(context.Background(), Closed{Workers: 1, Warmup: 200 * time.Millisecond, Duration: 200 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	recorded := res.Operations()[0].Count
	if recorded >= calls.Load() || recorded == 0 {
		t.Errorf("recorded %d of %d calls; want the warm-up calls discarded and some measured", recorded, calls.Load())
	}
}

func TestMixRecordsEachOperation(t *testing.T) {
	t.Parallel()
	ok := func(context.Context) error { return nil }
	res, err := RunClosed(context.Background(), Closed{Workers: 2, Duration: 200 * time.Millisecond},
		Operation{Name: "read", Weight: 3, Do: ok},
		Operation{Name: "write", Weight: 1, Do: func(context.Context) error { return &StatusError{Code: 429} }})
	if err != nil {
		t.Fatal(err)
	}
	ops := res.Operations()
	if len(ops) != 2 {
		t.Fatalf("got %d operations, want 2", len(ops))
	}
	read, write := ops[0], ops[1]
	if read.Count == 0 || read.Errors != 0 {
		t.Errorf("read = %d ok, %d errors", read.Count, read.Errors)
	}
	if write.Count != 0 || write.RateLimited == 0 || write.RateLimited != write.Errors {
		t.Errorf("write: count %d, rate-limited %d, errors %d; want 429s counted as rate-limited, never as throughput",
			write.Count, write.RateLimited, write.Errors)
	}
	if write.ThroughputOpsPerSec != 0 {
		t.Errorf("write throughput = %v, want 0", write.ThroughputOpsPerSec)
	}
	ratio := float64(read.Errors+read.Count) / float64(write.Errors+write.Count)
	if ratio < 2 || ratio > 4.5 {
		t.Errorf("read:write = %.2f, want about 3", ratio)
	}
}

func TestBadConfig(t *testing.T) {
	t.Parallel()
	op := Operation{Name: "x", Do: func(context.Context) error { return nil }}
	tests := []struct {
		name string
		run  func() error
	}{
		{"no operations", func() error {
			_, err := RunClosed(context.Background(), Closed{Workers: 1, Duration: time.Millisecond})
			return err
		}},
		{"zero workers", func() error {
			_, err := RunClosed(context.Background(), Closed{Duration: time.Millisecond}, op)
			return err
		}},
		{"zero rate", func() error { _, err := RunOpen(context.Background(), Open{MaxInFlight: 1}, op); return err }},
		{"unnamed", func() error {
			_, err := RunClosed(context.Background(), Closed{Workers: 1}, Operation{Do: op.Do})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.run() == nil {
				t.Error("want an error")
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addr := srv.URL
	srv.Close() // now refused
	client := NewHTTPClient(1, time.Second)
	refused := Get(context.Background(), client, addr)

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"status", &StatusError{Code: 503}, "http_503"},
		{"rate limited", &StatusError{Code: 429}, "rate_limited"},
		{"wrapped status", errors.Join(errors.New("x"), &StatusError{Code: 500}), "http_500"},
		{"deadline", context.DeadlineExceeded, KindTimeout},
		{"refused", refused, KindRefused},
		{"other", errors.New("boom"), KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestStepRampFindsLimit(t *testing.T) {
	// Not parallel: the other tests' load would blur the 10 ms slot.
	// A "server" that handles at most 100 ops/s through one slot (10 ms each).
	var mu sync.Mutex
	op := Operation{Name: "slot", Do: func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		return nil
	}}
	res, err := RunStep(context.Background(), Step{StartRate: 50, Increment: 100, StepDuration: time.Second,
		MaxSteps: 4, MaxErrorRate: 0.01, MaxP99: 100 * time.Millisecond, MaxInFlight: 64}, op)
	if err != nil {
		t.Fatal(err)
	}
	if res.MaxSustainable == nil || *res.MaxSustainable != 50 {
		t.Fatalf("max sustainable = %v (steps %+v, %s), want 50: 150 ops/s overloads the 100 ops/s slot", res.MaxSustainable, res.Steps, res.Broke)
	}
	if len(res.Steps) != 2 || res.Steps[1].Held {
		t.Errorf("steps = %+v, want the second to break", res.Steps)
	}
}
