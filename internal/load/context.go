package load

import (
	"context"
	"time"
)

// What an operation can learn from the context the engine calls it with.

type intendedKey struct{}
type windowKey struct{}
type workerKey struct{}

// Worker returns the index of the engine's worker that called the
// operation (0..workers-1).
func Worker(ctx context.Context) (int, bool) {
	i, ok := ctx.Value(workerKey{}).(int)
	return i, ok
}

// MeasureStart returns when the measured window of the run that called
// the operation starts: operations that keep their own measurements
// (phases of a request) discard those that started before it, exactly as
// the engine discards warm-up.
func MeasureStart(ctx context.Context) (time.Time, bool) {
	w, ok := ctx.Value(windowKey{}).(window)
	return w.measure, ok
}

// Window returns the measured window of the run that called the
// operation: an operation that counts its own quantities (bytes received)
// counts those it completes inside [from, to), as the engine counts
// throughput.
func Window(ctx context.Context) (from, to time.Time, ok bool) {
	w, ok := ctx.Value(windowKey{}).(window)
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	return w.measure, w.stop(), true
}

// IntendedStart returns the time an open-loop operation was scheduled to
// start, so an operation can measure its own phases (time to first token)
// from it, corrected for coordinated omission like the engine's latency.
// ok is false in closed loops, where the actual start is the intended one.
func IntendedStart(ctx context.Context) (t time.Time, ok bool) {
	t, ok = ctx.Value(intendedKey{}).(time.Time)
	return t, ok
}
