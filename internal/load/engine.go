package load

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/pace"
)

// Operation is one kind of work the engine repeats.
type Operation struct {
	Name string
	// Weight is the operation's share in a mix; 0 counts as 1.
	Weight int
	// Do performs the operation once. A nil error is a success.
	Do func(ctx context.Context) error
}

// LateThreshold is how far behind its intended time an open-loop start may
// begin before it counts as late.
const LateThreshold = time.Millisecond

// DefaultDrain is how long operations still running at the end of a run may
// take to finish before they are cancelled and counted as unfinished.
const DefaultDrain = 10 * time.Second

// ErrNoOperations is returned when a run is given no operations.
var ErrNoOperations = errors.New("load: no operations")

// Closed configures a closed-loop run.
type Closed struct {
	Workers  int
	Warmup   time.Duration
	Duration time.Duration
	// Drain bounds the wait for operations running at the end (DefaultDrain if 0).
	Drain time.Duration
	Seed  uint64
}

// Open configures an open-loop run.
type Open struct {
	// Rate is the intended arrival rate in operations per second.
	Rate    float64
	Poisson bool
	// Gamma, when above 0, draws the gaps between arrivals from a gamma
	// distribution of this shape (vLLM's burstiness): 1 is Poisson, below
	// 1 burstier, above 1 smoother. It overrides Poisson.
	Gamma    float64
	Warmup   time.Duration
	Duration time.Duration
	// MaxInFlight bounds operations in flight (and so the workers).
	MaxInFlight int
	Drain       time.Duration
	Seed        uint64
	// End, if not nil, ends the measured window early when it is closed
	// (a scenario that measures until something happened): the window is
	// then shorter than Duration, and that is not an error.
	End <-chan struct{}
}

// Result is what one run measured.
type Result struct {
	Recorder     *metrics.Recorder
	MeasureStart time.Time
	MeasureEnd   time.Time
	Load         metrics.Load
	// RateLimit is what the first HTTP 429 answer said of the target's
	// limit, or nil when there was none.
	RateLimit *metrics.RateLimit
}

// limitSeen keeps the first HTTP 429 answer of a run.
type limitSeen struct {
	once sync.Once
	rl   *metrics.RateLimit
}

func (l *limitSeen) note(err error) {
	var se *StatusError
	if errors.As(err, &se) && se.Code == 429 {
		l.once.Do(func() { l.rl = &metrics.RateLimit{RetryAfter: se.RetryAfter, Headers: se.RateLimit} })
	}
}

// Measured is the length of the measured window.
func (r *Result) Measured() time.Duration { return r.MeasureEnd.Sub(r.MeasureStart) }

// Operations returns every operation's snapshot over the measured window.
func (r *Result) Operations() []metrics.Operation {
	var out []metrics.Operation
	for _, op := range r.Recorder.Ops() {
		out = append(out, op.Snapshot(r.Measured()))
	}
	return out
}

// mix picks operations by weight.
type mix struct {
	ops   []Operation
	cum   []int
	total int
}

func newMix(ops []Operation) (*mix, error) {
	if len(ops) == 0 {
		return nil, ErrNoOperations
	}
	m := &mix{ops: ops}
	for _, op := range ops {
		if op.Do == nil || op.Name == "" {
			return nil, fmt.Errorf("load: operation %q has no name or no func", op.Name)
		}
		w := op.Weight
		if w <= 0 {
			w = 1
		}
		m.total += w
		m.cum = append(m.cum, m.total)
	}
	return m, nil
}

func (m *mix) pick(rnd *rand.Rand) int {
	if len(m.ops) == 1 {
		return 0
	}
	n := rnd.IntN(m.total)
	for i, c := range m.cum {
		if n < c {
			return i
		}
	}
	return len(m.ops) - 1
}

// window holds the timing of one run: warm-up from start, measurement
// from measure until end, or until an early end noted in cut.
type window struct {
	start, measure, end time.Time
	cut                 *atomic.Int64 // unix ns of an early end (Open.End); 0: none
}

// stop is the end of the measured window: the planned end, or an early one.
func (w window) stop() time.Time {
	if c := w.cut.Load(); c != 0 {
		return time.Unix(0, c)
	}
	return w.end
}

// in reports whether t falls inside the measured window.
func (w window) in(t time.Time) bool { return !t.Before(w.measure) && t.Before(w.stop()) }

func newWindow(warmup, duration time.Duration) window {
	now := time.Now()
	return window{start: now, measure: now.Add(warmup), end: now.Add(warmup + duration), cut: new(atomic.Int64)}
}

// startTicker closes an interval every second of the measured window until
// the returned stop func is called; stop waits for the ticking goroutine.
func startTicker(rec *metrics.Recorder, w window) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-time.After(time.Until(w.measure)):
		case <-quit:
			return
		}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case now := <-t.C:
				if now.After(w.end.Add(-50 * time.Millisecond)) {
					return // finish closes the last interval at the end itself
				}
				rec.Tick(now)
			case <-quit:
				return
			}
		}
	}()
	return func() { close(quit); <-done }
}

// RunClosed runs ops with c.Workers closed-loop workers.
func RunClosed(ctx context.Context, c Closed, ops ...Operation) (*Result, error) {
	m, err := newMix(ops)
	if err != nil {
		return nil, err
	}
	if c.Workers < 1 {
		return nil, fmt.Errorf("load: workers must be at least 1, but is %d", c.Workers)
	}
	w := newWindow(c.Warmup, c.Duration)
	rec := metrics.NewRecorder(c.Workers, false)
	rec.CountWindow()
	rec.Start(w.measure)
	recOps := make([]*metrics.Op, len(ops))
	for i, op := range ops {
		recOps[i] = rec.Op(op.Name)
	}
	opCtx, cancelOps := context.WithCancel(context.WithValue(ctx, windowKey{}, w))
	defer cancelOps()
	stopTicks := startTicker(rec, w)

	var limits limitSeen
	var workers sync.WaitGroup
	for i := 0; i < c.Workers; i++ {
		shards := make([]*metrics.Shard, len(recOps))
		for j, op := range recOps {
			shards[j] = op.Shard(i)
		}
		rnd := rand.New(rand.NewPCG(c.Seed, uint64(i)))
		wctx := context.WithValue(opCtx, workerKey{}, i)
		workers.Add(1)
		go func() {
			defer workers.Done()
			for {
				start := time.Now()
				if !start.Before(w.end) || opCtx.Err() != nil {
					return
				}
				k := m.pick(rnd)
				err := m.ops[k].Do(wctx)
				done := time.Now()
				if start.Before(w.measure) {
					if err == nil && w.in(done) {
						shards[k].Completed() // warm-up's, finished inside the window
					}
					continue
				}
				if err != nil {
					recordError(opCtx, shards[k], err, &limits)
					continue
				}
				shards[k].RecordDone(done.Sub(start).Nanoseconds(), w.in(done))
			}
		}()
	}
	end := finish(ctx, nil, rec, w, &workers, cancelOps, stopTicks, c.Drain)
	return &Result{
		Recorder: rec, MeasureStart: w.measure, MeasureEnd: end,
		Load: metrics.Load{Mode: "closed", Workers: c.Workers}, RateLimit: limits.rl,
	}, ctx.Err()
}

// RunOpen runs ops at o.Rate operations per second.
func RunOpen(ctx context.Context, o Open, ops ...Operation) (*Result, error) {
	m, err := newMix(ops)
	if err != nil {
		return nil, err
	}
	if o.Rate <= 0 {
		return nil, fmt.Errorf("load: rate must be above 0, but is %v", o.Rate)
	}
	if o.MaxInFlight < 1 {
		return nil, fmt.Errorf("load: max in flight must be at least 1, but is %d", o.MaxInFlight)
	}
	w := newWindow(o.Warmup, o.Duration)
	rec := metrics.NewRecorder(o.MaxInFlight, true)
	rec.CountWindow()
	rec.Start(w.measure)
	recOps := make([]*metrics.Op, len(ops))
	for i, op := range ops {
		recOps[i] = rec.Op(op.Name)
	}
	opCtx, cancelOps := context.WithCancel(context.WithValue(ctx, windowKey{}, w))
	defer cancelOps()
	stopTicks := startTicker(rec, w)

	starts := make(chan time.Time)
	var late atomic.Int64
	var limits limitSeen
	var workers sync.WaitGroup
	for i := 0; i < o.MaxInFlight; i++ {
		shards := make([]*metrics.Shard, len(recOps))
		for j, op := range recOps {
			shards[j] = op.Shard(i)
		}
		rnd := rand.New(rand.NewPCG(o.Seed, uint64(i)))
		wctx := context.WithValue(opCtx, workerKey{}, i)
		workers.Add(1)
		go func() {
			defer workers.Done()
			for intended := range starts {
				k := m.pick(rnd)
				actual := time.Now()
				err := m.ops[k].Do(context.WithValue(wctx, intendedKey{}, intended))
				done := time.Now()
				if intended.Before(w.measure) {
					if err == nil && w.in(done) {
						shards[k].Completed() // warm-up's, finished inside the window
					}
					continue
				}
				if actual.Sub(intended) > LateThreshold {
					late.Add(1)
				}
				if err != nil {
					recordError(opCtx, shards[k], err, &limits)
					continue
				}
				shards[k].RecordOpen(done.Sub(intended).Nanoseconds(), done.Sub(actual).Nanoseconds(), w.in(done))
			}
		}()
	}

	// The scheduler owns the starts channel and closes it.
	rnd := rand.New(rand.NewPCG(o.Seed, 1<<32))
	var n int64
	prev := w.start
	// arrival returns the next intended start. Constant arrivals are
	// computed from the start, not accumulated, so rounding does not drift
	// the rate.
	arrival := func() time.Time {
		if o.Gamma > 0 {
			prev = prev.Add(time.Duration(gammaSample(rnd, o.Gamma) / (o.Gamma * o.Rate) * float64(time.Second)))
			return prev
		}
		if o.Poisson {
			prev = prev.Add(time.Duration(rnd.ExpFloat64() / o.Rate * float64(time.Second)))
			return prev
		}
		t := w.start.Add(time.Duration(float64(n) * float64(time.Second) / o.Rate))
		n++
		return t
	}
	var sent, dropped int64 // starts inside the window handed to a worker, and never begun
	endTimer := time.NewTimer(time.Until(w.end))
	defer endTimer.Stop()
	sleeper := pace.NewSleeper()
	defer sleeper.Close()
	// schedCtx ends the scheduling at an interruption or at o.End; an
	// early end is noted in the window first, so nothing completing after
	// it counts as inside the window.
	schedCtx, endSched := context.WithCancel(ctx)
	defer endSched()
	var ended chan struct{}
	if o.End != nil {
		ended = make(chan struct{})
		go func() {
			select {
			case <-o.End:
				w.cut.Store(time.Now().UnixNano())
				close(ended)
				endSched()
			case <-schedCtx.Done():
			}
		}()
	}
schedule:
	for {
		next := arrival()
		if !next.Before(w.end) || !sleeper.Until(schedCtx, next) {
			break
		}
		// A free worker takes the start at once; only when every worker is
		// busy does the end of the window compete with the hand-off.
		select {
		case starts <- next:
		default:
			select {
			case starts <- next:
			case <-schedCtx.Done():
				break schedule
			case <-endTimer.C:
				// Every worker is busy until the end: this start and every
				// later one due before the end never begin.
				for t := next; t.Before(w.end); t = arrival() {
					if w.in(t) {
						dropped++
					}
				}
				break schedule
			}
		}
		if w.in(next) {
			sent++
		}
	}
	close(starts)
	end := finish(ctx, ended, rec, w, &workers, cancelOps, stopTicks, o.Drain)
	kind := "constant"
	switch {
	case o.Gamma > 0:
		kind = fmt.Sprintf("gamma(%g)", o.Gamma)
	case o.Poisson:
		kind = "poisson"
	}
	return &Result{
		Recorder: rec, MeasureStart: w.measure, MeasureEnd: end,
		Load: metrics.Load{Mode: "open", RateOpsPerSec: o.Rate, Arrival: kind, MaxInFlight: o.MaxInFlight,
			IntendedStarts: sent + dropped, LateStarts: late.Load(), DroppedStarts: dropped},
		RateLimit: limits.rl,
	}, ctx.Err()
}

// finish waits for the end of the measured window (or an interruption,
// or earlyEnd closing), closes the window's last interval, then waits for
// the operations still running, cancelling them after drain, and adds
// those that finished to the totals. It returns the end of the measured
// window: the planned end, or the moment of an interruption or early end.
// Throughput counts what completed inside it, so neither a straggler nor
// a slow drain changes it (wrk's rule).
func finish(ctx context.Context, earlyEnd <-chan struct{}, rec *metrics.Recorder, w window, workers *sync.WaitGroup, cancelOps context.CancelFunc, stopTicks func(), drain time.Duration) time.Time {
	if drain <= 0 {
		drain = DefaultDrain
	}
	end := w.end
	if wait := time.Until(w.end); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			end = time.Now()
		case <-earlyEnd:
			end = w.stop()
		}
		t.Stop()
	}
	stopTicks()
	if end.Before(w.measure) {
		end = w.measure
	}
	rec.Tick(end)
	done := make(chan struct{})
	go func() { workers.Wait(); close(done) }()
	t := time.NewTimer(drain)
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
		cancelOps()
		<-done
	case <-t.C:
		cancelOps()
		<-done
	}
	rec.Flush()
	return end
}

// recordError counts a failed operation: as unfinished when the engine
// itself cut it off (the drain ended, or the run was interrupted), else as
// an error of its kind (noting the first HTTP 429's limit).
func recordError(opCtx context.Context, s *metrics.Shard, err error, limits *limitSeen) {
	if opCtx.Err() != nil && errors.Is(err, context.Canceled) {
		s.Unfinished()
		return
	}
	limits.note(err)
	s.Error(Classify(err))
}

// gammaSample draws from a gamma distribution of the given shape and
// scale 1 (Marsaglia and Tsang's method; shapes below 1 boosted by
// U^(1/shape)).
func gammaSample(rnd *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return gammaSample(rnd, shape+1) * math.Pow(rnd.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rnd.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rnd.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
