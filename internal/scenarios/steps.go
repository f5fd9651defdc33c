// One load of a sweep or a capacity search: a closed loop of clients or
// an open loop at a rate, run on its own recorders, measured as one
// metrics.SweepPoint and judged against capacity.slo.

package scenarios

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
)

// stepper runs the loads of one sweep or search.
type stepper struct {
	env *Env
	cfg config.Capacity
	// build returns the operation of one load, recording inference
	// phases into st when st is not nil (inference); inference says so.
	build     func(st *inferStats) load.Operation
	inference bool
	// maxInFlight bounds an open loop's requests in flight.
	maxInFlight int
	seq         uint64
}

// stepRun is one load's outcome: its point, and the result and phases it
// was measured from (for the scenario's own operations).
type stepRun struct {
	point metrics.SweepPoint
	res   *load.Result
	st    *inferStats
}

// closed runs clients in a closed loop for at least the step duration,
// longer when that did not give capacity.min_completions completions.
func (s *stepper) closed(ctx context.Context, clients int, label string) (stepRun, error) {
	d := s.cfg.MinStepDuration
	for attempt := 0; ; attempt++ {
		r, err := s.measure(ctx, label, func(op load.Operation) (*load.Result, error) {
			return load.RunClosed(ctx, load.Closed{Workers: clients, Warmup: s.cfg.StepWarmup, Duration: d,
				Drain: s.env.Config.API.RequestTimeout, Seed: s.nextSeed()}, op)
		})
		if err != nil || attempt > 0 || r.point.Completions >= int64(s.cfg.MinCompletions) || r.point.AchievedRPS <= 0 {
			r.point.Clients = clients
			return r, err
		}
		d = min(time.Duration(1.2*float64(s.cfg.MinCompletions)/r.point.AchievedRPS*float64(time.Second)), 2*time.Minute)
	}
}

// open runs an open loop at rate for long enough to complete
// capacity.min_completions requests, and at least the step duration.
func (s *stepper) open(ctx context.Context, rate float64, label string) (stepRun, error) {
	d := max(s.cfg.MinStepDuration, time.Duration(float64(s.cfg.MinCompletions)/rate*float64(time.Second)))
	o := load.Open{Rate: rate, Warmup: s.cfg.StepWarmup, Duration: d, MaxInFlight: s.maxInFlight,
		Drain: s.env.Config.API.RequestTimeout, Seed: s.nextSeed()}
	switch s.cfg.Arrival {
	case "poisson":
		o.Poisson = true
	case "gamma":
		o.Gamma = s.cfg.Burstiness
	}
	r, err := s.measure(ctx, label, func(op load.Operation) (*load.Result, error) { return load.RunOpen(ctx, o, op) })
	r.point.OfferedRPS = rate
	return r, err
}

func (s *stepper) nextSeed() uint64 {
	s.seq++
	return s.env.Seed + s.seq
}

// measure runs one load through run and reads its point.
func (s *stepper) measure(ctx context.Context, label string, run0 func(load.Operation) (*load.Result, error)) (stepRun, error) {
	var st *inferStats
	if s.inference {
		st = newInferStats(bound(s.cfg.SLO.TTFTP99), bound(s.cfg.SLO.TPOTP99), s.maxInFlight)
	}
	b := &backlog{}
	stop := b.sample(ctx)
	res, err := run0(b.wrap(s.build(st)))
	stop()
	if err != nil {
		return stepRun{}, err
	}
	if st != nil {
		st.rec.Tick(res.MeasureEnd)
	}
	p := pointOf(label, res, st)
	p.BacklogGrew = b.grew(res.MeasureStart, res.MeasureEnd)
	return stepRun{point: p, res: res, st: st}, nil
}

// bound is an SLO bound as a per-request limit for goodput (0: none).
func bound(d time.Duration) time.Duration {
	if d <= 0 {
		return time.Duration(1<<62 - 1)
	}
	return d
}

// pointOf reads a load's point from its result and inference phases.
func pointOf(label string, res *load.Result, st *inferStats) metrics.SweepPoint {
	p := metrics.SweepPoint{Label: label}
	var errs int64
	for _, op := range res.Operations() {
		p.AchievedRPS += op.ThroughputOpsPerSec
		p.Completions += op.Count
		errs += op.Errors
		p.E2EP50Ns, p.E2EP99Ns = max(p.E2EP50Ns, op.Latency.P50Ns), max(p.E2EP99Ns, op.Latency.P99Ns)
	}
	if total := p.Completions + errs + res.Load.DroppedStarts; total > 0 {
		p.ErrorRate = float64(errs+res.Load.DroppedStarts) / float64(total)
	}
	if st == nil {
		return p
	}
	measured := res.Measured()
	for _, op := range st.rec.Ops() {
		snap := op.Snapshot(measured)
		if snap.Count == 0 {
			continue
		}
		p50, p99 := snap.Latency.P50Ns, snap.Latency.P99Ns
		switch snap.Name {
		case "ttft":
			p.TTFTP50Ns, p.TTFTP99Ns = &p50, &p99
		case "tpot":
			p.TPOTP50Ns, p.TPOTP99Ns = &p50, &p99
			if p50 > 0 {
				p.TokensPerSPerUser = metrics.Float(1e9 / float64(p50))
			}
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if secs := measured.Seconds(); secs > 0 {
		if st.streamed > 0 {
			p.GoodputRPS = metrics.Float(float64(st.good) / secs)
		}
		if st.counted > 0 {
			p.OutputTokensPerS = metrics.Float(float64(st.tokens) / secs)
		}
	}
	return p
}

// judge says whether p met slo and, when offered is above 0 (an open
// loop), kept up with it; it fills Passed and Why and returns the SLO
// that bound ("" when it passed).
func judge(p *metrics.SweepPoint, slo config.SLO, inference bool, offered, keepUpPercent float64) string {
	var why, binding []string
	miss := func(name string, got int64, limit time.Duration) {
		if limit > 0 && time.Duration(got) > limit {
			why = append(why, fmt.Sprintf("%s %v > %v", name, time.Duration(got).Round(time.Microsecond*10), limit))
			binding = append(binding, name)
		}
	}
	if inference {
		switch {
		case p.TTFTP99Ns != nil:
			miss("ttft_p99", *p.TTFTP99Ns, slo.TTFTP99)
		case slo.TTFTP99 > 0:
			why, binding = append(why, "no streamed answer to time a first token by"), append(binding, "ttft_p99")
		}
		if p.TPOTP99Ns != nil {
			miss("tpot_p99", *p.TPOTP99Ns, slo.TPOTP99)
		}
	}
	miss("e2e_p99", p.E2EP99Ns, slo.E2EP99)
	if 100*p.ErrorRate > slo.ErrorRatePercent {
		why = append(why, fmt.Sprintf("error rate %.2f%% > %g%%", 100*p.ErrorRate, slo.ErrorRatePercent))
		binding = append(binding, "error_rate")
	}
	if p.Completions == 0 {
		why, binding = append(why, "no request completed"), append(binding, "error_rate")
	}
	if offered > 0 {
		if p.AchievedRPS < (1-keepUpPercent/100)*offered {
			why = append(why, fmt.Sprintf("completed %.3g of %.3g requests/s offered", p.AchievedRPS, offered))
			binding = append(binding, "keep_up")
		}
		if p.BacklogGrew {
			why, binding = append(why, "its backlog of outstanding requests grew"), append(binding, "keep_up")
		}
	}
	passed := len(why) == 0
	p.Passed, p.Why = &passed, strings.Join(why, "; ")
	if passed {
		return ""
	}
	return binding[0]
}

// backlog counts the requests outstanding, sampled through a load.
type backlog struct {
	n       atomic.Int64
	mu      sync.Mutex
	samples []backlogSample
}

type backlogSample struct {
	at time.Time
	n  int64
}

func (b *backlog) wrap(op load.Operation) load.Operation {
	do := op.Do
	op.Do = func(ctx context.Context) error {
		b.n.Add(1)
		defer b.n.Add(-1)
		return do(ctx)
	}
	return op
}

// sample notes the outstanding count every 20 ms until stop.
func (b *backlog) sample(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				b.mu.Lock()
				b.samples = append(b.samples, backlogSample{now, b.n.Load()})
				b.mu.Unlock()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// grew reports whether the mean outstanding count over the last quarter
// of [from, to) exceeds the first quarter's by half and by more than two
// requests: a queue that builds through the window, which a loose SLO on
// a short step would not yet show.
func (b *backlog) grew(from, to time.Time) bool {
	q := to.Sub(from) / 4
	b.mu.Lock()
	defer b.mu.Unlock()
	var first, last float64
	var nf, nl int
	for _, s := range b.samples {
		switch {
		case !s.at.Before(from) && s.at.Before(from.Add(q)):
			first += float64(s.n)
			nf++
		case !s.at.Before(to.Add(-q)) && s.at.Before(to):
			last += float64(s.n)
			nl++
		}
	}
	if nf == 0 || nl == 0 {
		return false
	}
	first, last = first/float64(nf), last/float64(nl)
	return last > 1.5*first+2
}

// setSweep records a sweep's points and verdict.
func (e *Env) setSweep(sw *metrics.Sweep) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Sweep = sw
}
