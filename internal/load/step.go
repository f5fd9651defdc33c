package load

import (
	"context"
	"fmt"
	"time"

	"github.com/odbench/odbench/internal/metrics"
)

// Step configures a step ramp: open-loop steps of rising rate until an SLO
// breaks or MaxSteps is reached.
type Step struct {
	// StartRate and Increment are in operations per second.
	StartRate    float64
	Increment    float64
	StepDuration time.Duration
	// Warmup runs before the first step; every later step warms up for
	// min(Warmup, StepDuration/4) at its own rate, so the operations in
	// flight at its start are those of its rate (a step's throughput counts
	// completions inside its window).
	Warmup   time.Duration
	MaxSteps int
	// MaxErrorRate is the highest error fraction (0..1) a step may show and still hold.
	MaxErrorRate float64
	// MaxP99 is the highest corrected p99 a step may show and still hold.
	MaxP99 time.Duration
	// MinAchieved is the lowest fraction of the intended rate a step must
	// achieve to hold (0.95 if 0): a generator or target that cannot keep
	// the rate has not sustained it.
	MinAchieved float64
	MaxInFlight int
	Poisson     bool
	Seed        uint64
}

// StepResult is a whole ramp.
type StepResult struct {
	Steps []metrics.Step
	// MaxSustainable is the last rate that held, in operations per second;
	// nil when not even the first step held.
	MaxSustainable *float64
	// Last is the last step that held (its histograms), or nil.
	Last *Result
	// Broke says why the ramp stopped.
	Broke string
}

// RunStep runs the ramp. Every step is a separate open-loop run with its
// own recorder; only steps that held keep their results.
func RunStep(ctx context.Context, s Step, ops ...Operation) (*StepResult, error) {
	if s.StartRate <= 0 || s.Increment <= 0 || s.MaxSteps < 1 {
		return nil, fmt.Errorf("load: step ramp needs start rate > 0, increment > 0 and max steps >= 1, got %v, %v, %d",
			s.StartRate, s.Increment, s.MaxSteps)
	}
	minAchieved := s.MinAchieved
	if minAchieved <= 0 {
		minAchieved = 0.95
	}
	out := &StepResult{}
	for i := 0; i < s.MaxSteps; i++ {
		rate := s.StartRate + float64(i)*s.Increment
		warm := s.Warmup
		if i > 0 {
			warm = min(s.Warmup, s.StepDuration/4)
		}
		res, err := RunOpen(ctx, Open{Rate: rate, Poisson: s.Poisson, Warmup: warm, Duration: s.StepDuration,
			MaxInFlight: s.MaxInFlight, Seed: s.Seed + uint64(i)}, ops...)
		if err != nil {
			return out, err
		}
		// The error rate counts what the target failed and the starts it left
		// no worker for; operations still running when the step's drain
		// ended are neither. Achieved is what completed inside the step's
		// window, over the window.
		var count, errs int64
		var p99 int64
		st := metrics.Step{RateOpsPerSec: rate}
		for _, op := range res.Operations() {
			count += op.Count
			errs += op.Errors
			p99 = max(p99, op.Latency.P99Ns)
			st.AchievedOpsPerSec += op.ThroughputOpsPerSec
		}
		st.P99Ns = p99
		if total := count + errs + res.Load.DroppedStarts; total > 0 {
			st.ErrorRate = float64(errs+res.Load.DroppedStarts) / float64(total)
		}
		switch {
		case st.ErrorRate > s.MaxErrorRate:
			out.Broke = fmt.Sprintf("at %.0f ops/s the error rate was %.2f%%, above %.2f%%", rate, 100*st.ErrorRate, 100*s.MaxErrorRate)
		case s.MaxP99 > 0 && time.Duration(p99) > s.MaxP99:
			out.Broke = fmt.Sprintf("at %.0f ops/s p99 was %v, above %v", rate, time.Duration(p99), s.MaxP99)
		case st.AchievedOpsPerSec < minAchieved*rate:
			out.Broke = fmt.Sprintf("at %.0f ops/s only %.0f ops/s succeeded (below %.0f%% of the rate)", rate, st.AchievedOpsPerSec, 100*minAchieved)
		default:
			st.Held = true
		}
		out.Steps = append(out.Steps, st)
		if !st.Held {
			return out, nil
		}
		out.MaxSustainable = metrics.Float(rate)
		out.Last = res
	}
	out.Broke = fmt.Sprintf("every step held up to the last, %d steps", s.MaxSteps)
	return out, nil
}
