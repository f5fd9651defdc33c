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
	op := &Op{name: name, total: newHist(), shards: make([]*Shard, r.shards)}
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
		op.tick(now.Sub(start))
	}
}

// Op is one named operation's measurements.
type Op struct {
	name   string
	shards []*Shard

	mu          sync.Mutex // guards everything below; taken once per interval
	total       *hdr.Histogram
	totalUncorr *hdr.Histogram
	errors      map[string]int64
	outOfRange  int64
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

// RecordOpen records one successful open-loop operation: corrected latency
// from the intended start and uncorrected latency from the actual start.
func (s *Shard) RecordOpen(correctedNs, uncorrectedNs int64) {
	s.mu.Lock()
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
func (s *Shard) swap() (h, hu *hdr.Histogram, errs map[string]int64, oor int64) {
	s.mu.Lock()
	h, s.cur, s.spare = s.cur, s.spare, nil
	hu, s.curUncorr, s.spareUnc = s.curUncorr, s.spareUnc, nil
	errs, s.errors = s.errors, map[string]int64{}
	oor, s.outOfRange = s.outOfRange, 0
	s.mu.Unlock()
	return
}

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
	// EndOffsetMs is the end of the interval, in milliseconds since the measurement started.
	EndOffsetMs int64 `json:"end_offset_ms"`
	// DurationMs is the interval's length in milliseconds.
	DurationMs int64 `json:"duration_ms"`
	Count      int64 `json:"count"`
	Errors     int64 `json:"errors"`
	P50Ns      int64 `json:"p50_ns"`
	P99Ns      int64 `json:"p99_ns"`
	MaxNs      int64 `json:"max_ns"`
}

func (o *Op) tick(offset time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.scratch == nil {
		o.scratch = newHist()
	}
	iv := o.scratch
	iv.Reset()
	var nerr int64
	for _, s := range o.shards {
		h, hu, errs, oor := s.swap()
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
		}
		o.outOfRange += oor
		s.giveBack(h, hu)
	}
	o.total.Merge(iv)
	o.timeline = append(o.timeline, Interval{
		EndOffsetMs: offset.Milliseconds(),
		DurationMs:  (offset - o.lastTick).Milliseconds(),
		Count:       iv.TotalCount(),
		Errors:      nerr,
		P50Ns:       iv.ValueAtQuantile(50),
		P99Ns:       iv.ValueAtQuantile(99),
		MaxNs:       iv.Max(),
	})
	o.lastTick = offset
}

// Snapshot summarizes the operation over measured, the length of the
// measured window. Call it after the final Tick.
func (o *Op) Snapshot(measured time.Duration) Operation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := Operation{
		Name:       o.name,
		Count:      o.total.TotalCount(),
		OutOfRange: o.outOfRange,
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
		out.ThroughputOpsPerSec = float64(out.Count) / measured.Seconds()
	}
	return out
}

// KindRateLimited is the error kind of HTTP 429 answers.
const KindRateLimited = "rate_limited"
