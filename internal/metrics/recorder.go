package metrics

import (
	"runtime"
	"sort"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs resolution floor up to 120 s, 3 significant digits.
// Values are nanoseconds.
const (
	HistMinNs   = 1_000
	HistMaxNs   = 120_000_000_000
	HistSigFigs = 3
)

func newHist() *hdr.Histogram { return hdr.New(HistMinNs, HistMaxNs, HistSigFigs) }

// Recorder collects latency histograms for named operations.
// It is safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	ops     map[string]*Op
	order   []string
	shards  int
	open    bool
	started time.Time
	// windowed: throughput counts the successes completed inside the
	// measured window (see CountWindow), not every success recorded.
	windowed bool
}

// NewRecorder returns a recorder for `workers` concurrent recorders. openLoop
// adds the uncorrected view next to the corrected one.
func NewRecorder(workers int, openLoop bool) *Recorder {
	shards := 4 * runtime.GOMAXPROCS(0)
	if workers < shards {
		shards = workers
	}
	if shards < 1 {
		shards = 1
	}
	return &Recorder{ops: map[string]*Op{}, shards: shards, open: openLoop, started: time.Now()}
}

// CountWindow makes throughput count only the successes that completed
// inside the measured window (reported with RecordDone, RecordOpen and
// Completed), as wrk does. The load engine sets it; recorders of phases
// measured outside the engine leave it unset, and their throughput is
// every recorded value over the window. Call it before creating ops.
func (r *Recorder) CountWindow() {
	r.mu.Lock()
	r.windowed = true
	r.mu.Unlock()
}

// Start marks the beginning of the measured window; the timeline counts from here.
func (r *Recorder) Start(t time.Time) {
	r.mu.Lock()
	r.started = t
	r.mu.Unlock()
}

// Started returns the beginning of the measured window.
func (r *Recorder) Started() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started
}

// Op returns the operation named name, creating it on first use.
func (r *Recorder) Op(name string) *Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op, ok := r.ops[name]; ok {
		return op
	}
	op := &Op{name: name, total: newHist(), shards: make([]*Shard, r.shards), windowed: r.windowed}
	if r.open {
		op.totalUncorr = newHist()
	}
	for i := range op.shards {
		op.shards[i] = newShard(r.open)
	}
	r.ops[name] = op
	r.order = append(r.order, name)
	return op
}

// Ops returns the operations in creation order.
func (r *Recorder) Ops() []*Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*Op, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.ops[n])
	}
	return out
}

// Tick closes the current interval of every operation at time now.
func (r *Recorder) Tick(now time.Time) {
	start := r.Started()
	for _, op := range r.Ops() {
		op.merge(now.Sub(start), true)
	}
}

// Flush adds what was recorded since the last Tick to the totals without
// closing an interval: operations that started inside the window and
// finished after it (the drain) belong to the histogram, not to the
// per-second timeline of the window.
func (r *Recorder) Flush() {
	for _, op := range r.Ops() {
		op.merge(0, false)
	}
}

// Op is one named operation's measurements.
type Op struct {
	name   string
	shards []*Shard

	windowed    bool
	mu          sync.Mutex // guards everything below; taken once per interval
	total       *hdr.Histogram
	totalUncorr *hdr.Histogram
	errors      map[string]int64
	outOfRange  int64
	done        int64 // successes completed inside the window
	unfinished  int64
	timeline    []Interval
	lastTick    time.Duration
	scratch     *hdr.Histogram
}

// Name returns the operation's name.
func (o *Op) Name() string { return o.name }

// Shard returns the shard for worker i. Workers keep their shard.
func (o *Op) Shard(i int) *Shard { return o.shards[i%len(o.shards)] }

// Shard is one stripe of an operation's recording state.
type Shard struct {
	mu         sync.Mutex
	cur        *hdr.Histogram
	curUncorr  *hdr.Histogram
	spare      *hdr.Histogram
	spareUnc   *hdr.Histogram
	errors     map[string]int64
	outOfRange int64
	done       int64
	unfinished int64
}

func newShard(open bool) *Shard {
	s := &Shard{cur: newHist(), spare: newHist(), errors: map[string]int64{}}
	if open {
		s.curUncorr, s.spareUnc = newHist(), newHist()
	}
	return s
}

// Record records one successful operation's latency in nanoseconds.
func (s *Shard) Record(latencyNs int64) {
	s.mu.Lock()
	if s.cur.RecordValue(latencyNs) != nil {
		s.outOfRange++
	}
	s.mu.Unlock()
}

// RecordDone records one successful operation's latency in nanoseconds;
// inWindow says it completed inside the measured window (throughput).
func (s *Shard) RecordDone(latencyNs int64, inWindow bool) {
	s.mu.Lock()
	if s.cur.RecordValue(latencyNs) != nil {
		s.outOfRange++
	}
	if inWindow {
		s.done++
	}
	s.mu.Unlock()
}

// Completed counts a success that completed inside the window but started
// before it (in the warm-up): throughput, but no latency.
func (s *Shard) Completed() {
	s.mu.Lock()
	s.done++
	s.mu.Unlock()
}

// Unfinished counts an operation that was still running when the engine
// stopped waiting for it: neither a success nor an error of the target.
func (s *Shard) Unfinished() {
	s.mu.Lock()
	s.unfinished++
	s.mu.Unlock()
}

// RecordOpen records one successful open-loop operation: corrected latency
// from the intended start and uncorrected latency from the actual start;
// inWindow says it completed inside the measured window (throughput).
func (s *Shard) RecordOpen(correctedNs, uncorrectedNs int64, inWindow bool) {
	s.mu.Lock()
	if inWindow {
		s.done++
	}
	if s.cur.RecordValue(correctedNs) != nil {
		s.outOfRange++
	}
	if s.curUncorr != nil {
		// The uncorrected value is never larger than the corrected one, so
		// only the corrected view can overflow; counting both would count twice.
		_ = s.curUncorr.RecordValue(uncorrectedNs)
	}
	s.mu.Unlock()
}

// Error counts one failed operation of the given kind.
func (s *Shard) Error(kind string) {
	s.mu.Lock()
	s.errors[kind]++
	s.mu.Unlock()
}

// swap hands the shard's current interval to the collector and gives it the
// (empty) spare histograms in exchange.
func (s *Shard) swap() (h, hu *hdr.Histogram, errs map[string]int64, c shardCounts) {
	s.mu.Lock()
	h, s.cur, s.spare = s.cur, s.spare, nil
	hu, s.curUncorr, s.spareUnc = s.curUncorr, s.spareUnc, nil
	errs, s.errors = s.errors, map[string]int64{}
	c = shardCounts{outOfRange: s.outOfRange, done: s.done, unfinished: s.unfinished}
	s.outOfRange, s.done, s.unfinished = 0, 0, 0
	s.mu.Unlock()
	return
}

// shardCounts are a shard's counters handed over at a swap.
type shardCounts struct{ outOfRange, done, unfinished int64 }

// giveBack returns emptied histograms as the next spares. Only the collector
// (which holds Op.mu) swaps, so spare is nil exactly between swap and giveBack.
func (s *Shard) giveBack(h, hu *hdr.Histogram) {
	h.Reset()
	if hu != nil {
		hu.Reset()
	}
	s.mu.Lock()
	s.spare, s.spareUnc = h, hu
	s.mu.Unlock()
}

// Interval is one timeline step of one operation.
type Interval struct {
	// Count is the successes that completed in the interval (inside the
	// measured window); P50Ns, P99Ns and MaxNs are the latencies recorded
	// in it, those of requests begun in the warm-up excepted.
	// EndOffsetMs is the end of the interval, in milliseconds since the measurement started.
	EndOffsetMs int64 `json:"end_offset_ms"`
	// DurationMs is the interval's length in milliseconds.
	DurationMs int64 `json:"duration_ms"`
	Count      int64 `json:"count"`
	Errors     int64 `json:"errors"`
	// ErrorsByKind splits Errors, so errors can be judged by when they
	// happened (outside a fault window, say).
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	P50Ns        int64            `json:"p50_ns"`
	P99Ns        int64            `json:"p99_ns"`
	MaxNs        int64            `json:"max_ns"`
}

// merge takes every shard's recordings since the last merge into the
// totals and, with interval, closes a timeline interval ending at offset.
func (o *Op) merge(offset time.Duration, interval bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.scratch == nil {
		o.scratch = newHist()
	}
	iv := o.scratch
	iv.Reset()
	var nerr, ndone int64
	var kinds map[string]int64
	for _, s := range o.shards {
		h, hu, errs, c := s.swap()
		iv.Merge(h)
		if hu != nil {
			o.totalUncorr.Merge(hu)
		}
		if o.errors == nil {
			o.errors = map[string]int64{}
		}
		for k, v := range errs {
			o.errors[k] += v
			nerr += v
			if kinds == nil {
				kinds = map[string]int64{}
			}
			kinds[k] += v
		}
		o.outOfRange += c.outOfRange
		o.done += c.done
		ndone += c.done
		o.unfinished += c.unfinished
		s.giveBack(h, hu)
	}
	o.total.Merge(iv)
	if !interval {
		return
	}
	// An interval counts what completed in it. Under CountWindow that is
	// every success completed inside the window, those begun in the
	// warm-up included (they have no latency to record); counting only the
	// latencies recorded would make the first second read short by every
	// request that was in flight when the measurement began.
	count := iv.TotalCount()
	if o.windowed {
		count = ndone
	}
	o.timeline = append(o.timeline, Interval{
		EndOffsetMs:  offset.Milliseconds(),
		DurationMs:   (offset - o.lastTick).Milliseconds(),
		Count:        count,
		Errors:       nerr,
		ErrorsByKind: kinds,
		P50Ns:        iv.ValueAtQuantile(50),
		P99Ns:        iv.ValueAtQuantile(99),
		MaxNs:        iv.Max(),
	})
	o.lastTick = offset
}

// Snapshot summarizes the operation over measured, the length of the
// measured window. Call it after the final Tick (and Flush).
func (o *Op) Snapshot(measured time.Duration) Operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := Operation{
		Name:       o.name,
		Count:      o.total.TotalCount(),
		OutOfRange: o.outOfRange,
		Unfinished: o.unfinished,
		Latency:    Summarize(o.total),
		Histogram:  EncodeHistogram(o.total),
		Timeline:   append([]Interval(nil), o.timeline...),
	}
	if len(o.errors) > 0 {
		out.ErrorsByKind = map[string]int64{}
		kinds := make([]string, 0, len(o.errors))
		for k := range o.errors {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			out.ErrorsByKind[k] = o.errors[k]
			out.Errors += o.errors[k]
		}
		out.RateLimited = o.errors[KindRateLimited]
	}
	if o.totalUncorr != nil {
		u := Summarize(o.totalUncorr)
		out.Uncorrected = &u
		out.UncorrectedHistogram = EncodeHistogram(o.totalUncorr)
	}
	if measured > 0 {
		done := out.Count
		if o.windowed {
			done = o.done
		}
		out.ThroughputOpsPerSec = float64(done) / measured.Seconds()
	}
	return out
}

// KindRateLimited is the error kind of HTTP 429 answers.
const KindRateLimited = "rate_limited"
