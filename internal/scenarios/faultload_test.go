package scenarios

import (
	"context"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
)

// A fault window's throughput is what completed within its span over the
// span's length, so the windows together count exactly the completions
// the engine counts, those begun in the warm-up included; a request's
// latency and error stay with the window of its own start and end.
func TestFaultWindowsCountCompletionsBySpan(t *testing.T) {
	cfg := shortConfig()
	cfg.Execution.WarmupDuration = 250 * time.Millisecond
	cfg.Execution.Duration = time.Second
	env := NewEnv(cfg, slog.New(slog.DiscardHandler), Spec{Name: "faults/fake"}, t.TempDir(), 1)
	w := newFaultWindows("put")
	// Each request takes 30 ms (100 ms in the warm-up), those sent during
	// the fault until it ends: a stall that releases a burst at the heal.
	faultOver := make(chan struct{})
	op := load.Operation{Name: "put", Do: func(ctx context.Context) error {
		sent := time.Now()
		if w.span(sent) == windowDuring {
			select {
			case <-faultOver:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		d := 30 * time.Millisecond
		if from, ok := load.MeasureStart(ctx); ok && sent.Before(from) {
			d = 100 * time.Millisecond // many in flight when the measurement begins
		}
		time.Sleep(d)
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := underFault(ctx, env, w, 100, 64, op, func(ctx context.Context) error {
		w.begin(time.Now())
		time.Sleep(200 * time.Millisecond)
		close(faultOver)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	engine := res.Recorder.Op("put").Snapshot(res.Measured())
	engineDone := int64(math.Round(engine.ThroughputOpsPerSec * res.Measured().Seconds()))
	scen, _, _ := env.Result()
	var windowsDone, windowsLatencies int64
	phases := 0
	for _, o := range scen.Operations {
		if o.PhaseOf != "put" {
			continue
		}
		phases++
		windowsDone += int64(math.Round(o.ThroughputOpsPerSec * float64(o.WindowMs) / 1000))
		windowsLatencies += o.Count
	}
	if phases != 3 {
		t.Fatalf("%d window phases, want before, during and after: %+v", phases, scen.Operations)
	}
	if windowsDone != engineDone {
		t.Errorf("the windows count %d completions, the engine %d: a window's throughput must be its span's completions", windowsDone, engineDone)
	}
	if windowsLatencies != engine.Count {
		t.Errorf("the windows hold %d latencies, the engine %d", windowsLatencies, engine.Count)
	}
	var during metrics.Operation
	for _, o := range scen.Operations {
		if o.Name == "put@"+windowDuring {
			during = o
		}
	}
	if during.Count == 0 || during.Latency.MaxNs < int64(150*time.Millisecond) {
		t.Errorf("during holds %d requests with max %v; want the stalled ones, which waited for the heal", during.Count, time.Duration(during.Latency.MaxNs))
	}
}
