package scenarios

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// Env is what a scenario gets to work with, and where it records what it saw.
type Env struct {
	Config *config.Config
	// Target is the profile of the system measured: how to drive its
	// key-value store, its inference API and its other routes.
	Target *target.Profile
	Log    *slog.Logger
	// Warmup and Duration are the configured warm-up and measured time.
	Warmup   time.Duration
	Duration time.Duration
	// Dir is a folder for the scenario's files (dumps, logs); may be empty.
	Dir string
	// Seed drives the arrivals and operation picks of this repetition
	// (recorded in the result; `run --seed` replays it).
	Seed uint64
	// SlotStart, when set (a sharded run with shard.start_at), is the
	// instant every shard starts this scenario's load at: the first load
	// waits for it, so the shards' measured windows line up.
	SlotStart time.Time
	slotOnce  sync.Once

	mu      sync.Mutex
	start   time.Time
	res     metrics.Scenario
	windows [][2]time.Time
}

// NewEnv returns an Env for one run of spec with the given seed.
func NewEnv(cfg *config.Config, log *slog.Logger, spec Spec, dir string, seed uint64) *Env {
	return &Env{
		Config: cfg, Target: defaultTarget(), Log: log, Dir: dir, Seed: seed,
		Warmup: cfg.Execution.WarmupDuration, Duration: cfg.Execution.Duration,
		start: time.Now(),
		res:   metrics.Scenario{Name: spec.Name, Category: spec.Category, Params: spec.Params, Seed: seed},
	}
}

// limitMargin is the share of the target's rate limit loads are paced
// at: the rest is odbench's own requests and a margin for jitter.
const limitMargin = target.LoadShare

// rateLimit returns the target's per-client limit in requests per second
// (cluster.rate_limit, else the profile's rate_limit), or 0 when none is set.
func (e *Env) rateLimit() float64 {
	limit := e.RateLimitText()
	if limit == "" {
		return 0
	}
	r, _ := config.ParseRate(limit) // validated
	return r
}

// RateLimitText is the rate limit in force, as configured ("100/min").
func (e *Env) RateLimitText() string {
	if e.Config.Cluster.RateLimit != "" || e.Target == nil {
		return e.Config.Cluster.RateLimit
	}
	return e.Target.RateLimit
}

// defaultTarget is the reference node's profile, which Envs drive unless
// the runner gives another.
func defaultTarget() *target.Profile {
	p, err := target.Load("odbench-node")
	if err != nil {
		panic("the built-in odbench-node profile: " + err.Error()) // tested
	}
	return p
}

// API returns a client of the target's routes over c.
func (e *Env) API(c *load.FastClient) *API { return NewAPI(c, e.Target) }

// KV returns a client of the target's key-value store over c, or a skip
// when the profile has none.
func (e *Env) KV(c *load.FastClient) (*kvClient, error) {
	kv, err := newKV(e.Target, fastExchanger{c})
	if err != nil {
		return nil, Skip("the %s profile has no kv section: key-value scenarios need one", e.Target.Name)
	}
	return kv, nil
}

// capped marks the scenario's throughput as the rate limit's.
func (e *Env) capped(how string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.res.RateLimit == nil {
		e.res.RateLimit = &metrics.RateLimit{}
	}
	e.res.RateLimit.Capped = how
}

// Workers is this shard's part of n closed-loop clients (all of them when
// the run is not sharded); 0 means the shard has none to run.
func (e *Env) Workers(n int) int { return e.Config.Shard.Workers(n) }

// noWorkers is the skip of a shard whose part of a client count is 0.
func (e *Env) noWorkers(n int) error {
	return Skip("shard %d of %d has no part of %d clients (fewer clients than shards)", e.Config.Shard.Index, e.Config.Shard.Count, n)
}

// waitSlot waits, once, for the scenario's slot on the shards' shared
// clock.
func (e *Env) waitSlot(ctx context.Context) {
	e.slotOnce.Do(func() {
		if d := time.Until(e.SlotStart); !e.SlotStart.IsZero() && d > 0 {
			sleepCtx(ctx, d)
		}
	})
}

// Closed runs ops in a closed loop with the configured warm-up and
// duration and records the result. Against a rate-limited target
// (cluster.rate_limit) it runs an open loop paced just below the limit
// with as many requests in flight as workers, and says so: a closed loop
// would only measure the limiter's 429s. A shard runs its part of the
// workers (Workers).
func (e *Env) Closed(ctx context.Context, workers int, ops ...load.Operation) (*load.Result, error) {
	all := workers
	if workers = e.Workers(workers); workers == 0 {
		return nil, e.noWorkers(all)
	}
	e.waitSlot(ctx)
	if limit := e.rateLimit(); limit > 0 {
		rate := limit * limitMargin
		e.capped(fmt.Sprintf("rate limit %s: %d closed-loop clients became an open loop at %.3g requests/s, %.0f%% of the limit",
			e.RateLimitText(), workers, rate, 100*limitMargin))
		return e.openAt(ctx, load.Open{Rate: rate, MaxInFlight: workers, Duration: e.Duration}, ops...)
	}
	res, err := load.RunClosed(ctx, load.Closed{Workers: workers, Warmup: e.Warmup, Duration: e.Duration,
		Drain: e.Config.API.RequestTimeout, Seed: e.Seed}, ops...)
	if res != nil {
		e.AddResult(res)
	}
	return res, err
}

// Open runs ops in an open loop at rate operations per second with the
// configured warm-up, duration and arrival process, and records the result.
func (e *Env) Open(ctx context.Context, rate float64, maxInFlight int, ops ...load.Operation) (*load.Result, error) {
	return e.OpenArrivals(ctx, rate, e.Config.API.Arrival == "poisson", maxInFlight, ops...)
}

// OpenArrivals is Open with the arrival process chosen by the scenario.
// Against a rate-limited target a rate above the limit is capped to just
// below it, and the scenario says so.
func (e *Env) OpenArrivals(ctx context.Context, rate float64, poisson bool, maxInFlight int, ops ...load.Operation) (*load.Result, error) {
	return e.openAt(ctx, load.Open{Rate: e.capRate(rate), Poisson: poisson, MaxInFlight: maxInFlight, Duration: e.Duration}, ops...)
}

// OpenUntil is Open for a load measured until end is closed (or, at the
// latest, for limit).
func (e *Env) OpenUntil(ctx context.Context, rate float64, maxInFlight int, limit time.Duration, end <-chan struct{}, ops ...load.Operation) (*load.Result, error) {
	return e.openAt(ctx, load.Open{Rate: e.capRate(rate), Poisson: e.Config.API.Arrival == "poisson", MaxInFlight: maxInFlight,
		Duration: limit, End: end}, ops...)
}

// capRate caps an open loop's rate just below cluster.rate_limit, and
// says so.
func (e *Env) capRate(rate float64) float64 {
	limit := e.rateLimit()
	if limit <= 0 || rate <= limit*limitMargin {
		return rate
	}
	e.capped(fmt.Sprintf("rate limit %s: the open loop's %.3g requests/s was capped to %.3g, %.0f%% of the limit",
		e.RateLimitText(), rate, limit*limitMargin, 100*limitMargin))
	return limit * limitMargin
}

// Ramp runs a step ramp of open-loop rates (with the scenario's warm-up
// and seed) until a step breaks, and records its steps, its last step's
// operations, where it stopped and the highest rate that held
// (max_sustainable_ops_per_s). A shard runs its part of every rate.
func (e *Env) Ramp(ctx context.Context, s load.Step, ops ...load.Operation) error {
	s.Warmup, s.Seed = e.Warmup, e.Seed
	s.StartRate, s.Increment = e.Config.Shard.Rate(s.StartRate), e.Config.Shard.Rate(s.Increment)
	e.waitSlot(ctx)
	res, err := load.RunStep(ctx, s, ops...)
	if err != nil {
		return err
	}
	if res.Last != nil {
		e.AddResult(res.Last)
	}
	e.SetSteps(res.Steps)
	e.Event("ramp_stopped", "", res.Broke)
	if res.MaxSustainable == nil {
		e.Absent("max_sustainable_ops_per_s", "ops/s", "not even the first step held: "+res.Broke)
		return nil
	}
	e.Scalar("max_sustainable_ops_per_s", *res.MaxSustainable, "ops/s")
	if last := res.Steps[len(res.Steps)-1]; last.Held {
		e.Warn("every step of the ramp held, so %.0f ops/s is a lower bound of the limit: raise its max_steps or increment (concurrency.max_steps and step_increment for concurrency/stress) to find it", *res.MaxSustainable)
	}
	return nil
}

// RateLimited reports why a scenario cannot run against a rate-limited
// target (one that needs more requests than the limit allows), or "".
func (e *Env) RateLimited() string {
	if e.RateLimitText() == "" {
		return ""
	}
	return "the target's rate limit " + e.RateLimitText() + " caps the request rate, which this scenario's load would only measure the limiter with"
}

// openAt runs o with the scenario's warm-up, drain and seed, and records
// the result. A shard runs its part of the rate.
func (e *Env) openAt(ctx context.Context, o load.Open, ops ...load.Operation) (*load.Result, error) {
	o.Warmup, o.Drain, o.Seed = e.Warmup, e.Config.API.RequestTimeout, e.Seed
	o.Rate = e.Config.Shard.Rate(o.Rate)
	e.waitSlot(ctx)
	res, err := load.RunOpen(ctx, o, ops...)
	if res != nil {
		e.AddResult(res)
	}
	return res, err
}

// AddResult records a load run's operations, load description and window.
func (e *Env) AddResult(r *load.Result) {
	ops := r.Operations()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Operations = append(e.res.Operations, ops...)
	l := r.Load
	e.res.Load = &l
	if r.RateLimit != nil {
		capped := ""
		if e.res.RateLimit != nil {
			capped = e.res.RateLimit.Capped
		}
		if e.res.RateLimit == nil || (e.res.RateLimit.RetryAfter == "" && e.res.RateLimit.Headers == nil) {
			rl := *r.RateLimit
			rl.Capped = capped
			e.res.RateLimit = &rl
		}
	}
	if len(e.windows) == 0 {
		e.res.MeasureOffsetMs = r.MeasureStart.Sub(e.start).Milliseconds()
	}
	e.windows = append(e.windows, [2]time.Time{r.MeasureStart, r.MeasureEnd})
	e.res.WarmupNs += e.Warmup.Nanoseconds()
	e.res.MeasuredNs += r.Measured().Nanoseconds()
}

// Client returns an HTTP client for conns concurrent requests with the
// configured request timeout.
func (e *Env) Client(conns int) *http.Client {
	return load.NewHTTPClient(conns, e.Config.API.RequestTimeout)
}

// AddOperations records operations measured outside the load engine (per
// node, per phase) beside the engine's.
func (e *Env) AddOperations(ops ...metrics.Operation) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Operations = append(e.res.Operations, ops...)
}

// SetSteps records the steps of a step ramp in the scenario's load.
func (e *Env) SetSteps(steps []metrics.Step) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.res.Load == nil {
		e.res.Load = &metrics.Load{}
	}
	e.res.Load.Mode = "step"
	e.res.Load.Steps = steps
}

// FastClient returns a fasthttp-based client for conns concurrent plain
// request/response operations with the configured request timeout.
func (e *Env) FastClient(conns int) *load.FastClient {
	return load.NewFastClient(conns, e.Config.API.RequestTimeout)
}

// Scalar records a measured number with its unit.
func (e *Env) Scalar(name string, value float64, unit string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Scalars = append(e.res.Scalars, metrics.Scalar{Name: name, Value: metrics.Float(value), Unit: unit})
}

// Absent records that a number could not be measured, and why.
func (e *Env) Absent(name, unit, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Scalars = append(e.res.Scalars, metrics.Scalar{Name: name, Unit: unit, Reason: reason})
}

// Event records something that happened, timed from the scenario's start.
func (e *Env) Event(kind, node, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Events = append(e.res.Events, metrics.Event{OffsetMs: time.Since(e.start).Milliseconds(), Kind: kind, Node: node, Detail: detail})
}

// Check records a pass/fail assertion about the target. severity is
// metrics.SeverityFail (correctness or safety: a failed check fails the
// scenario) or metrics.SeverityWarn (advisory); each call site says why.
func (e *Env) Check(name, severity string, passed bool, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Checks = append(e.res.Checks, metrics.Check{Name: name, Severity: severity, Passed: passed, Detail: detail})
}

// Warn attaches a warning to the scenario's result.
func (e *Env) Warn(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res.Warnings = append(e.res.Warnings, fmt.Sprintf(format, args...))
}

// Result returns what the scenario recorded and the span of its measured
// windows (zero times when it measured nothing).
func (e *Env) Result() (res metrics.Scenario, from, to time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, w := range e.windows {
		if i == 0 || w[0].Before(from) {
			from = w[0]
		}
		if w[1].After(to) {
			to = w[1]
		}
	}
	return e.res, from, to
}
