package report

import (
	"math"

	"github.com/odbench/odbench/internal/metrics"
)

// How compare estimates a metric's noise, the change it would see between
// two runs of the same build:
//
//   - With 3 or more repetitions on a side, the relative standard deviation
//     of their values. Repetitions are the real evidence: each is a whole
//     measurement, taken at another moment of the machine's life.
//   - With fewer, the relative standard deviation of the per-second values
//     of the repetitions' timelines (throughput per second, the p50 and p99
//     of each second; p95 uses the per-second p99, the nearest the timeline
//     keeps; error rate in percentage points). Seconds of one run are
//     correlated, so this understates the noise between runs on a machine
//     whose speed drifts, and overstates it for a long steady run; it is a
//     floor that catches noisy runs, not a confidence interval.
//
// The two sides' noises add as those of a difference: sqrt(nb² + nc²). A
// change no larger is never a regression, whatever the tolerance.

// minNoiseSamples is the fewest values a spread is taken from.
const minNoiseSamples = 3

// collectSeries gathers, per key and metric, the per-second values of
// every repetition's timeline.
func collectSeries(run *metrics.Run) samples {
	out := samples{}
	eachOK(run, func(size int, s *metrics.Scenario) {
		for _, op := range s.Operations {
			k := Key{Size: size, Scenario: s.Name, Operation: op.Name}
			for _, iv := range op.Timeline {
				if iv.DurationMs < 500 {
					continue // a partial interval at the end is not a second
				}
				out.add(k, "throughput", float64(iv.Count)*1000/float64(iv.DurationMs))
				if iv.Count > 0 {
					out.add(k, "p50", float64(iv.P50Ns)/1e6)
					out.add(k, "p95", float64(iv.P99Ns)/1e6)
					out.add(k, "p99", float64(iv.P99Ns)/1e6)
				}
				if n := iv.Count + iv.Errors; n > 0 {
					out.add(k, "error_rate", 100*float64(iv.Errors)/float64(n))
				}
			}
		}
	})
	return out
}

// Sources of a noise estimate.
const (
	NoiseFromRepetitions = "repetitions"
	NoiseFromSeconds     = "per-second values"
)

// sideNoise is one side's noise of a metric: in percent of its mean, or in
// the metric's own unit when absolute. ok is false when neither source has
// enough values.
func sideNoise(reps, seconds []float64, absolute bool) (noise float64, from string, ok bool) {
	if v, ok := spread(reps, absolute); ok {
		return v, NoiseFromRepetitions, true
	}
	if v, ok := spread(seconds, absolute); ok {
		return v, NoiseFromSeconds, true
	}
	return 0, "", false
}

// spread is the sample standard deviation of v, relative to its mean in
// percent unless absolute.
func spread(v []float64, absolute bool) (float64, bool) {
	if len(v) < minNoiseSamples {
		return 0, false
	}
	var sum float64
	for _, x := range v {
		sum += x
	}
	mean := sum / float64(len(v))
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	sd := math.Sqrt(ss / float64(len(v)-1))
	if absolute {
		return sd, true
	}
	if mean == 0 {
		return 0, false
	}
	return 100 * sd / math.Abs(mean), true
}
