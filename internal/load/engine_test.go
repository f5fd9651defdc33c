package load

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/metrics"
	"go.uber.org/goleak"
)

// fasthttp keeps one goroutine for the whole process once it has dialled:
// its default dialer's DNS cache cleaner.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"))
}

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

// TestOpenLoopStall: a server that stalls once for a second behind a
// single connection. Corrected (from the intended start), every request
// due during the stall waited for it; uncorrected (from the actual start),
// only the stalled one did, as in wrk2. Counts of requests past half the
// stall, not latencies, are compared, with wide margins: a busy machine
// slows requests by milliseconds, not by half a second.
func TestOpenLoopStall(t *testing.T) {
	t.Parallel()
	const stall = time.Second
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 50 {
			time.Sleep(stall)
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
	over := func(encoded string) int64 {
		h, err := metrics.DecodeHistogram(encoded)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, b := range h.Distribution() {
			if b.From >= int64(stall/2) {
				n += b.Count
			}
		}
		return n
	}
	// About 100 requests are due during the stall (100/s for 1 s).
	if c := over(got.Histogram); c < 50 {
		t.Errorf("corrected: %d requests waited over %v, want the ~100 due during the stall", c, stall/2)
	}
	if u := over(got.UncorrectedHistogram); u < 1 || u > 5 {
		t.Errorf("uncorrected: %d requests took over %v, want the stalled one (and never the queue behind it)", u, stall/2)
	}
	if res.Load.LateStarts == 0 {
		t.Error("no late starts counted behind a stall")
	}
}

// TestOpenLoopDropped: with every worker blocked until the end, the starts
// that could not begin are counted as dropped, and the blocked operation as
// unfinished, not as an error. Every one of the 50 starts due in the
// window is accounted for (constant arrivals once lost one).
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
	got := res.Operations()[0]
	if got.Unfinished != 1 || got.Errors != 0 {
		t.Errorf("unfinished %d, errors %v; want the blocked operation unfinished and no error", got.Unfinished, got.ErrorsByKind)
	}
	if d := res.Load.DroppedStarts; d != 49 {
		t.Errorf("dropped starts = %d, want 49 (50 due, one began)", d)
	}
	if sum := got.Count + got.Errors + got.Unfinished + res.Load.DroppedStarts; sum != 50 || res.Load.IntendedStarts != 50 {
		t.Errorf("intended starts %d; count+errors+unfinished+dropped = %d; want both 50", res.Load.IntendedStarts, sum)
	}
}

// TestOpenLoopAccounting: with successes, failures and drops mixed, every
// start due in the window is exactly one of them.
func TestOpenLoopAccounting(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	op := Operation{Name: "mixed", Do: func(ctx context.Context) error {
		switch n.Add(1) % 3 {
		case 0:
			return &StatusError{Code: 503}
		case 1:
			time.Sleep(30 * time.Millisecond) // keeps both workers busy now and then
		}
		return nil
	}}
	for _, poisson := range []bool{false, true} {
		res, err := RunOpen(context.Background(), Open{Rate: 200, Poisson: poisson, Warmup: 100 * time.Millisecond,
			Duration: 500 * time.Millisecond, MaxInFlight: 2, Seed: 7}, op)
		if err != nil {
			t.Fatal(err)
		}
		o := res.Operations()[0]
		if sum := o.Count + o.Errors + o.Unfinished + res.Load.DroppedStarts; sum != res.Load.IntendedStarts {
			t.Errorf("poisson=%v: count %d + errors %d + unfinished %d + dropped %d = %d, want the %d intended starts",
				poisson, o.Count, o.Errors, o.Unfinished, res.Load.DroppedStarts, sum, res.Load.IntendedStarts)
		}
		if !poisson && res.Load.IntendedStarts != 100 {
			t.Errorf("constant arrivals: %d intended starts in 500ms at 200/s, want 100", res.Load.IntendedStarts)
		}
	}
}

// TestOpenLoopEarlyEnd: closing End ends the window early, without an
// error, and throughput counts only what completed before the end.
func TestOpenLoopEarlyEnd(t *testing.T) {
	t.Parallel()
	end := make(chan struct{})
	var started atomic.Int64
	op := Operation{Name: "slow", Do: func(ctx context.Context) error {
		if started.Add(1) == 20 {
			close(end)
		}
		time.Sleep(50 * time.Millisecond) // every one in flight at the end finishes after it
		return nil
	}}
	res, err := RunOpen(context.Background(), Open{Rate: 100, Duration: time.Minute, MaxInFlight: 64, End: end}, op)
	if err != nil {
		t.Fatalf("an early end is not an error: %v", err)
	}
	if m := res.Measured(); m >= time.Minute {
		t.Fatalf("measured %v: the window did not end early", m)
	}
	o := res.Operations()[0]
	if done := o.ThroughputOpsPerSec * res.Measured().Seconds(); done > float64(o.Count)-1 {
		t.Errorf("throughput counts %.0f completions of %d: those finishing after the end must not count", done, o.Count)
	}
}

// TestOpenLoopSustainedThroughput: 200/s of 200 ms operations against a
// server that keeps up: every one of the 200 starts due in the 1 s window
// began and succeeded, none dropped, and the window is exactly the second
// asked for, whatever the stragglers. The rate itself is measured by make
// bench-engine, which prints it per second.
func TestOpenLoopSustainedThroughput(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
	}))
	defer srv.Close()
	client := NewHTTPClient(128, 5*time.Second)
	defer client.CloseIdleConnections()
	op := Operation{Name: "get", Do: func(ctx context.Context) error { return Get(ctx, client, srv.URL) }}
	res, err := RunOpen(context.Background(), Open{Rate: 200, Warmup: 500 * time.Millisecond, Duration: time.Second, MaxInFlight: 128}, op)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Operations()[0]
	if res.Load.IntendedStarts != 200 || res.Load.DroppedStarts != 0 || got.Errors != 0 || got.Unfinished != 0 || got.Count != 200 {
		t.Errorf("intended %d, dropped %d, errors %d, unfinished %d, succeeded %d: want all 200 starts due succeeded",
			res.Load.IntendedStarts, res.Load.DroppedStarts, got.Errors, got.Unfinished, got.Count)
	}
	if res.Measured() != time.Second {
		t.Errorf("measured window = %v, want exactly the 1s asked for", res.Measured())
	}
	// Throughput counts completions inside the window: a whole number over 1 s.
	if done := got.ThroughputOpsPerSec; done != float64(int64(done)) || done > 200+float64(got.Count) {
		t.Errorf("throughput %v/s over 1 s is not a count of completions", done)
	}
}

// TestClosedLoopStraggler: one operation of 1 s among 10 ms ones, in a
// 1 s window, must not stretch the window: throughput stays within 5% of
// the completions over the window.
func TestClosedLoopStraggler(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	op := Operation{Name: "op", Do: func(ctx context.Context) error {
		d := 10 * time.Millisecond
		if n.Add(1) == 100 { // inside the window, with 1 s to go
			d = time.Second
		}
		time.Sleep(d)
		return nil
	}}
	res, err := RunClosed(context.Background(), Closed{Workers: 4, Warmup: 100 * time.Millisecond, Duration: time.Second}, op)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Operations()[0]
	want := float64(got.Count) / time.Second.Seconds()
	if got.ThroughputOpsPerSec < 0.95*want {
		t.Errorf("throughput %.1f/s, want >= 95%% of count / 1s window = %.1f/s (window measured as %v)", got.ThroughputOpsPerSec, want, res.Measured())
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

// TestStepRampSlowOperationsHold: a target that sustains every rate with
// 300 ms operations holds every step; the requests still running at a
// step's end are neither errors nor missing throughput.
func TestStepRampSlowOperationsHold(t *testing.T) {
	t.Parallel()
	op := Operation{Name: "slow", Do: func(ctx context.Context) error {
		time.Sleep(300 * time.Millisecond)
		return nil
	}}
	res, err := RunStep(context.Background(), Step{StartRate: 50, Increment: 50, StepDuration: 2 * time.Second,
		Warmup: 400 * time.Millisecond, MaxSteps: 2, MaxErrorRate: 0.01, MaxP99: time.Second, MaxInFlight: 64}, op)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range res.Steps {
		if !st.Held {
			t.Errorf("step %+v broke (%s); want every step held", st, res.Broke)
		}
	}
}

// TestSeedReplays: the same seed draws the same Poisson arrivals and the
// same operation picks; another seed draws others.
func TestSeedReplays(t *testing.T) {
	t.Parallel()
	picks := func(seed uint64) ([]string, int64) {
		var mu sync.Mutex
		var seq []string
		op := func(name string) Operation {
			return Operation{Name: name, Weight: 1, Do: func(context.Context) error {
				mu.Lock()
				seq = append(seq, name)
				mu.Unlock()
				return nil
			}}
		}
		res, err := RunOpen(context.Background(), Open{Rate: 400, Poisson: true, Duration: 250 * time.Millisecond, MaxInFlight: 1, Seed: seed},
			op("a"), op("b"), op("c"))
		if err != nil {
			t.Fatal(err)
		}
		return seq, res.Load.IntendedStarts
	}
	a, na := picks(42)
	b, nb := picks(42)
	c, _ := picks(43)
	if na != nb || strings.Join(a, "") != strings.Join(b, "") {
		t.Errorf("seed 42 twice: %d and %d starts, picks %q and %q; want the same", na, nb, strings.Join(a, ""), strings.Join(b, ""))
	}
	if strings.Join(a, "") == strings.Join(c, "") {
		t.Errorf("seeds 42 and 43 picked the same %d operations", len(a))
	}
}

// Gamma gaps keep the mean 1/shape-scaled: over many draws the mean of
// Gamma(k) is k and its variance k, for a bursty and a smooth shape.
func TestGammaSample(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, k := range []float64{0.25, 1, 4} {
		const n = 200000
		var sum, sq float64
		for range n {
			x := gammaSample(rnd, k)
			if x < 0 {
				t.Fatalf("shape %v: negative draw %v", k, x)
			}
			sum += x
			sq += x * x
		}
		mean := sum / n
		variance := sq/n - mean*mean
		if math.Abs(mean-k)/k > 0.02 || math.Abs(variance-k)/k > 0.05 {
			t.Errorf("shape %v: mean %.3f variance %.3f, want both %v", k, mean, variance, k)
		}
	}
}
