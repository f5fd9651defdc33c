package scenarios

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
)

// errText is err's message, or "succeeded" when there was none.
func errText(err error) string {
	if err == nil {
		return "succeeded"
	}
	return err.Error()
}

// ackLog remembers every key whose write was acknowledged, to check none
// is lost after a fault.
type ackLog struct {
	mu   sync.Mutex
	keys []string
}

func (a *ackLog) add(k string) {
	a.mu.Lock()
	a.keys = append(a.keys, k)
	a.mu.Unlock()
}

func (a *ackLog) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.keys...)
}

// The windows a fault scenario's requests are told apart by: before the
// fault (answered before it began), during it (touched by it: sent before
// it was over and answered after it began; a fault lasts from its
// injection until it is over: healed, restarted, caught up), and after it
// (sent once it was over). A request stuck in a fault is the fault's,
// whenever it was sent or answered.
const (
	windowBefore = metrics.WindowBefore
	windowDuring = metrics.WindowDuring
	windowAfter  = metrics.WindowAfter
)

// windowNames lists the windows in order.
var windowNames = metrics.Windows()

// faultWindows splits the requests of one operation of a fault scenario
// into its windows, recorded as operations op@before, op@during and
// op@after (phases of op, each with its own window length). A request's
// latency and error belong to the window of its own start and end (see
// window); a window's throughput is what completed within its span, over
// the span's length, so a fixed offered rate reads as that rate in every
// window the target kept up in.
type faultWindows struct {
	op  string
	rec *metrics.Recorder
	// began and ended bound the fault (unix ns; 0: not yet): from the
	// first injection to its end.
	began, ended atomic.Int64
}

func newFaultWindows(op string) *faultWindows {
	w := &faultWindows{op: op, rec: metrics.NewRecorder(1, true)}
	w.rec.CountWindow()
	for _, name := range windowNames {
		w.rec.Op(op + "@" + name) // every window is reported, even one without a request
	}
	return w
}

// begin opens the during window at the first fault.
func (w *faultWindows) begin(t time.Time) { w.began.CompareAndSwap(0, t.UnixNano()) }

// window names the window of a request intended to start at sent and
// answered at done.
func (w *faultWindows) window(sent, done time.Time) string {
	switch b, e := w.began.Load(), w.ended.Load(); {
	case b == 0 || done.UnixNano() < b:
		return windowBefore
	case e == 0 || sent.UnixNano() < e:
		return windowDuring
	}
	return windowAfter
}

// span names the window whose span holds the instant t: before the fault
// began, until it ended, or after.
func (w *faultWindows) span(t time.Time) string {
	switch b, e := w.began.Load(), w.ended.Load(); {
	case b == 0 || t.UnixNano() < b:
		return windowBefore
	case e == 0 || t.UnixNano() < e:
		return windowDuring
	}
	return windowAfter
}

// wrap returns op recording each measured call in its window too, from
// its intended start like the engine (latencies of warm-up calls are not
// recorded), and counting every success completed inside the measured
// window in the span it completed in, as the engine counts throughput.
func (w *faultWindows) wrap(op load.Operation) load.Operation {
	do := op.Do
	op.Do = func(ctx context.Context) error {
		actual := time.Now()
		intended, ok := load.IntendedStart(ctx)
		if !ok {
			intended = actual
		}
		err := do(ctx)
		done := time.Now()
		from, to, windowed := load.Window(ctx)
		if err == nil && windowed && !done.Before(from) && done.Before(to) {
			w.rec.Op(w.op + "@" + w.span(done)).Shard(0).Completed()
		}
		if windowed && intended.Before(from) {
			return err
		}
		sh := w.rec.Op(w.op + "@" + w.window(intended, done)).Shard(0)
		switch {
		case err == nil:
			sh.RecordOpen(done.Sub(intended).Nanoseconds(), done.Sub(actual).Nanoseconds(), false)
		case ctx.Err() == nil:
			sh.Error(load.Classify(err))
		}
		return err
	}
	return op
}

// spans returns each window's bounds inside the measured window of res
// (only before, when no fault began).
func (w *faultWindows) spans(res *load.Result) map[string][2]time.Time {
	from, to := res.MeasureStart, res.MeasureEnd
	clip := func(ns int64) time.Time {
		t := time.Unix(0, ns)
		if t.Before(from) {
			return from
		}
		if t.After(to) {
			return to
		}
		return t
	}
	b := w.began.Load()
	if b == 0 {
		return map[string][2]time.Time{windowBefore: {from, to}}
	}
	e := to
	if ns := w.ended.Load(); ns != 0 {
		e = clip(ns)
	}
	return map[string][2]time.Time{windowBefore: {from, clip(b)}, windowDuring: {clip(b), e}, windowAfter: {e, to}}
}

// report records each window's requests as phases of the operation, each
// over its own length, so that throughput, latency and errors before,
// during and after the fault can be set side by side.
func (w *faultWindows) report(env *Env, res *load.Result) {
	w.rec.Flush()
	var ops []metrics.Operation
	spans := w.spans(res)
	for _, name := range windowNames {
		span, ok := spans[name]
		if !ok || !span[1].After(span[0]) {
			continue
		}
		snap := w.rec.Op(w.op + "@" + name).Snapshot(span[1].Sub(span[0]))
		snap.PhaseOf = w.op
		snap.WindowMs = span[1].Sub(span[0]).Milliseconds()
		ops = append(ops, snap)
	}
	env.AddOperations(ops...)
}

// underFault drives op open loop at rate while fault runs in the
// background once the warm-up and a quarter of execution.duration are
// over. The load goes on until execution.duration has passed and a
// quarter of it more since the fault ended, so every fault has an after
// window; then the requests are reported by window.
func underFault(ctx context.Context, env *Env, w *faultWindows, rate float64, maxInFlight int, op load.Operation,
	fault func(ctx context.Context) error) (*load.Result, error) {
	faultErr := errors.New("the fault never began: the load ended first (lengthen execution.duration)")
	end := make(chan struct{}) // closed when the fault and its after window are over
	loadDone := make(chan struct{})
	plannedEnd := time.Now().Add(env.Warmup + env.Duration)
	go func() {
		defer close(end)
		t := time.NewTimer(env.Warmup + env.Duration/4)
		defer t.Stop()
		select {
		case <-t.C:
		case <-loadDone:
			return
		case <-ctx.Done():
			return
		}
		// The fault runs to its end (a restart must not be cut short),
		// bounded by the scenario's own timeout.
		faultErr = fault(ctx)
		if w.began.Load() != 0 {
			w.ended.Store(time.Now().UnixNano())
		}
		until := time.Now().Add(env.Duration / 4)
		if until.Before(plannedEnd) {
			until = plannedEnd
		}
		after := time.NewTimer(time.Until(until))
		defer after.Stop()
		select {
		case <-after.C:
		case <-loadDone:
		case <-ctx.Done():
		}
	}()
	res, err := env.OpenUntil(ctx, rate, maxInFlight, faultLoadLimit(ctx, env), end, w.wrap(op))
	close(loadDone)
	<-end
	if res != nil {
		w.report(env, res)
	}
	return res, errors.Join(err, faultErr)
}

// faultLoadLimit bounds a fault load that waits for its fault to end: the
// scenario's remaining time, less its warm-up and a margin for the checks.
func faultLoadLimit(ctx context.Context, env *Env) time.Duration {
	limit := env.Duration + 2*time.Minute
	if d, ok := ctx.Deadline(); ok {
		limit = min(limit, time.Until(d)-env.Warmup-15*time.Second)
	}
	return max(limit, env.Duration)
}

// faultLoad is the steady write load a fault scenario runs under, with
// what clients saw of the fault: writes through every node in turn
// (followers forward), acknowledged keys logged, latency and errors by
// window, the recorded history workload beside it.
type faultLoad struct {
	*faultWindows
	c      cluster.Cluster
	kv     *kvSession
	client *load.FastClient
	acked  ackLog
	op     load.Operation
	hist   *historyLoad
	// faultAt is when the latest fault was injected and firstOK when the
	// first write that started after it succeeded (unix ns; 0: not yet).
	faultAt, firstOK atomic.Int64
}

// markFault notes the instant a fault is injected: it opens the during
// window (at the first fault) and recovery is timed from it.
func (f *faultLoad) markFault(t time.Time) {
	f.begin(t)
	f.firstOK.Store(0)
	f.faultAt.Store(t.UnixNano())
}

// recovered returns when the first write that started after the latest
// fault succeeded.
func (f *faultLoad) recovered() (time.Time, bool) {
	ns := f.firstOK.Load()
	return time.Unix(0, ns), ns != 0
}

func newFaultLoad(ctx context.Context, env *Env, c cluster.Cluster) (*faultLoad, error) {
	kv, err := openKV(ctx, env, c, 1<<30) // unique keys: every acknowledged one can be checked
	if err != nil {
		return nil, err
	}
	f := &faultLoad{faultWindows: newFaultWindows("put"), kv: kv, client: load.NewFastClient(8, 2*time.Second), c: c}
	puts, _ := env.KV(f.client)
	nodes := bases(c)
	var next atomic.Uint64
	f.op = load.Operation{Name: "put", Do: func(ctx context.Context) error {
		key := kv.keys.nextKey()
		base := nodes[int(next.Add(1))%len(nodes)]
		sent := time.Now().UnixNano()
		if _, err := puts.Put(ctx, base, key, []byte("f")); err != nil {
			return err
		}
		f.acked.add(key)
		if at := f.faultAt.Load(); at != 0 && sent > at {
			f.firstOK.CompareAndSwap(0, time.Now().UnixNano())
		}
		return nil
	}}
	f.hist = startHistory(ctx, env, c)
	return f, nil
}

// Close stops the history workload and deletes the keys written.
func (f *faultLoad) Close() { f.hist.stop(); f.client.Close(); f.kv.Close() }

// faultWriteRate is the steady write load of fault scenarios, in writes
// per second: light enough that every acknowledged key can be read back
// and deleted afterwards even on long runs.
const faultWriteRate = 100

// run drives faultWriteRate writes per second (open loop, so a stalled
// cluster shows as latency and dropped starts) under fault (see underFault).
func (f *faultLoad) run(ctx context.Context, env *Env, fault func(ctx context.Context) error) error {
	_, err := underFault(ctx, env, f.faultWindows, faultWriteRate, 64, f.op, fault)
	return err
}

// finish checks the history and that no acknowledged write was lost,
// both through the node at base, once it knows a leader again: a fault
// that cut the majority too leaves an election to hold after it heals.
func (f *faultLoad) finish(ctx context.Context, env *Env, base string) error {
	if err := awaitLeader(ctx, f.c, electionWait); err != nil {
		f.hist.stop()
		return err
	}
	f.hist.check(ctx, env, base)
	return f.verify(ctx, env, base)
}

// awaitLeader waits until the members agree on a leader, at most within.
func awaitLeader(ctx context.Context, c cluster.Cluster, within time.Duration) error {
	var last error
	if _, ok := pollUntil(ctx, time.Now().Add(within), func() bool {
		_, err := leaderOf(ctx, c)
		last = err
		return err == nil
	}); !ok {
		return fmt.Errorf("no leader %v after the fault ended: %v", within, last)
	}
	return nil
}

// verify reads back every acknowledged key through the node at base
// (linearizable reads, 16 at a time) and records the zero-loss check.
func (f *faultLoad) verify(ctx context.Context, env *Env, base string) error {
	keys := f.acked.all()
	var mu sync.Mutex
	var lost []string
	var readErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				_, _, found, err := f.kv.kv.Get(ctx, base, k, false)
				mu.Lock()
				switch {
				case err == nil && !found:
					lost = append(lost, k)
				case err != nil && readErr == nil:
					readErr = fmt.Errorf("reading back %s: %w", k, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	env.Scalar("acknowledged_writes", float64(len(keys)), "count")
	env.Scalar("lost_writes", float64(len(lost)), "count")
	// fail: an acknowledged write that is gone is data loss (the older
	// framework's "zero data loss" target).
	detail := fmt.Sprintf("%d of %d acknowledged writes missing after the fault", len(lost), len(keys))
	if len(lost) > 0 {
		sort.Strings(lost)
		detail += ", e.g. " + lost[0]
	}
	env.Check("no_acknowledged_write_lost", metrics.SeverityFail, len(lost) == 0, detail)
	return nil
}

// pollUntil polls cond every 10 ms until it holds (returning when), the
// deadline passes or ctx ends.
func pollUntil(ctx context.Context, deadline time.Time, cond func() bool) (time.Time, bool) {
	for {
		if cond() {
			return time.Now(), true
		}
		if !time.Now().Before(deadline) || !sleepCtx(ctx, 10*time.Millisecond) {
			return time.Now(), false
		}
	}
}

// sleepCtx waits for d or until ctx ends, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
