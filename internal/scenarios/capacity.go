// The capacity of a cluster under SLOs, and sweeps of its load: a
// synchronous probe (one request at a time) for the unloaded latencies, a
// throughput probe (capacity.max_clients in a closed loop) for the
// ceiling, then open-loop steps between them (GuideLLM's sweep; the
// search bisects until its bracket is capacity.precision_percent wide).

package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// capacityTimeout bounds one search or sweep.
const capacityTimeout = 30 * time.Minute

// capacityScenarios are the inference category's search and sweeps;
// they run only when execution.scenarios names them (Spec.OptIn).
func capacityScenarios(cfg *config.Config) []Spec {
	clients := make([]string, len(cfg.Capacity.SweepClients))
	for i, n := range cfg.Capacity.SweepClients {
		clients[i] = itoa(n)
	}
	inf := func(kind string) func(context.Context, *Env, cluster.Cluster) error {
		return func(ctx context.Context, env *Env, c cluster.Cluster) error {
			return runInferenceSweep(ctx, env, c, kind)
		}
	}
	return []Spec{
		{Name: "inference/capacity", OptIn: true, Timeout: capacityTimeout, Run: inf("capacity"),
			Params: map[string]string{"slo": sloText(cfg.Capacity.SLO, true)}},
		{Name: "inference/sweep/rate", OptIn: true, Timeout: capacityTimeout, Run: inf("rate"),
			Params: map[string]string{"rates": itoa(cfg.Capacity.SweepRates)}},
		{Name: "inference/sweep/clients=" + strings.Join(clients, ","), OptIn: true, Timeout: capacityTimeout, Run: inf("clients")},
	}
}

// apiCapacityScenarios search the capacity of the API's read routes
// under capacity.slo's e2e_p99 and error rate.
func apiCapacityScenarios(cfg *config.Config) []Spec {
	var out []Spec
	for _, read := range apiReads {
		name := read.name
		out = append(out, Spec{Name: "api/" + name + "/capacity", OptIn: true, Timeout: capacityTimeout,
			Params: map[string]string{"slo": sloText(cfg.Capacity.SLO, false)},
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
				r := read.request(env.Target)
				if r == nil {
					return Skip("the %s profile has no %s request", env.Target.Name, read.what)
				}
				if env.rateLimit() > 0 {
					return Skip("the target is rate-limited (%s): a search would find the limiter, not the cluster", env.RateLimitText())
				}
				client := env.FastClient(env.Config.Capacity.MaxClients * 4)
				defer client.Close()
				nodes := bases(c)
				s := &stepper{env: env, cfg: env.Config.Capacity, maxInFlight: env.Config.Capacity.MaxClients * 4,
					build: func(*inferStats) load.Operation { return routeOp(name, client, r, nodes) }}
				return search(ctx, env, s, "capacity")
			}})
	}
	return out
}

// sloText spells the SLO's bounds that apply.
func sloText(s config.SLO, inference bool) string {
	var parts []string
	add := func(name string, d time.Duration) {
		if d > 0 {
			parts = append(parts, name+" "+d.String())
		}
	}
	if inference {
		add("ttft_p99", s.TTFTP99)
		add("tpot_p99", s.TPOTP99)
	}
	add("e2e_p99", s.E2EP99)
	return strings.Join(append(parts, fmt.Sprintf("errors %g%%", s.ErrorRatePercent)), ", ")
}

// runInferenceSweep runs the search or a sweep of streamed inference.
func runInferenceSweep(ctx context.Context, env *Env, c cluster.Cluster, kind string) error {
	if env.Target.Inference == nil {
		return Skip("the %s profile has no inference section", env.Target.Name)
	}
	if env.rateLimit() > 0 {
		return Skip("the target is rate-limited (%s): a search would find the limiter, not the cluster", env.RateLimitText())
	}
	_, done, err := withModel(ctx, env, c)
	if err != nil {
		return err
	}
	defer done()
	wl, err := env.workload()
	if err != nil {
		return err
	}
	cc := env.Config.Capacity
	inFlight := cc.MaxClients * 4
	client := env.Client(inFlight)
	defer client.CloseIdleConnections()
	t, nodes := inferTargetOf(env, false), bases(c)
	s := &stepper{env: env, cfg: cc, inference: true, maxInFlight: inFlight,
		build: func(st *inferStats) load.Operation { return generateOp(requestOp, client, nodes, t, st, wl) }}
	return search(ctx, env, s, kind)
}

// search runs kind ("capacity", "rate" or "clients") and records its
// points, its verdict and the load at its result as the scenario's own.
func search(ctx context.Context, env *Env, s *stepper, kind string) error {
	slo, prec := s.cfg.SLO, s.cfg.PrecisionPercent/100
	sw := &metrics.Sweep{Kind: kind, SLO: map[string]string{"slo": sloText(slo, s.inference)}}
	var best *stepRun // the passing load with the highest rate: the scenario's own operations
	keep := func(r *stepRun, offered float64) (bool, string) {
		binding := judge(&r.point, slo, s.inference, offered, s.cfg.KeepUpPercent)
		sw.Points = append(sw.Points, r.point)
		if binding == "" && (best == nil || r.point.AchievedRPS > best.point.AchievedRPS) {
			best = r
		}
		return binding == "", binding
	}
	defer func() {
		env.setSweep(sw)
		if best != nil {
			env.AddResult(best.res)
			if best.st != nil {
				best.st.finish(env, best.res)
			}
		}
	}()
	if kind == "clients" {
		for _, n := range s.cfg.SweepClients {
			r, err := s.closed(ctx, n, "clients="+itoa(n))
			if err != nil {
				return err
			}
			keep(&r, 0)
		}
		sw.Knee = knee(sw.Points, sw.Points[0])
		return nil
	}
	sync, err := s.closed(ctx, 1, "synchronous")
	if err != nil {
		return err
	}
	if ok, _ := keep(&sync, 0); !ok {
		sw.CapacityAbsent = "even one request at a time misses the SLO: " + sync.point.Why
		env.Absent("capacity_rps", "requests/s", sw.CapacityAbsent)
		return nil
	}
	thr, err := s.closed(ctx, s.cfg.MaxClients, "throughput")
	if err != nil {
		return err
	}
	keep(&thr, 0)
	lo, hi := sync.point.AchievedRPS, thr.point.AchievedRPS
	env.Scalar("synchronous_rps", lo, "requests/s")
	env.Scalar("throughput_rps", hi, "requests/s")
	step := func(rate float64) (bool, string, error) {
		r, err := s.open(ctx, rate, "rate="+strconv.FormatFloat(rate, 'g', 4, 64))
		if err != nil {
			return false, "", err
		}
		ok, binding := keep(&r, rate)
		return ok, binding, nil
	}
	if kind == "rate" {
		for i := 1; i <= s.cfg.SweepRates; i++ {
			if _, _, err := step(lo + (hi-lo)*float64(i)/float64(s.cfg.SweepRates+1)); err != nil {
				return err
			}
		}
		sw.Knee = knee(sw.Points, sync.point)
		for _, p := range sw.Points {
			if p.OfferedRPS > 0 && *p.Passed && (sw.Capacity == nil || p.OfferedRPS > *sw.Capacity) {
				sw.Capacity = metrics.Float(p.OfferedRPS)
			}
		}
		return nil
	}
	// The search: the throughput probe's rate first; above it while it
	// holds, else bisect down towards the synchronous rate.
	failed, binding, steps := 0.0, "", 0
	if hi <= lo {
		hi = lo * (1 + prec)
	}
	for steps < s.cfg.MaxSteps {
		next := hi
		if failed > 0 {
			next = (lo + failed) / 2
		}
		if failed > 0 && (failed-lo)/lo <= prec {
			break
		}
		ok, why, err := step(next)
		if err != nil {
			return err
		}
		steps++
		switch {
		case ok && failed == 0:
			lo, hi = next, next*(1+prec)
		case ok:
			lo = next
		default:
			failed, binding = next, why
		}
	}
	sw.Capacity, sw.BracketLow, sw.BracketHigh, sw.Binding = metrics.Float(lo), lo, failed, binding
	env.Scalar("capacity_rps", lo, "requests/s")
	env.Scalar("capacity_steps", float64(steps), "steps")
	if failed == 0 {
		env.Warn("every rate up to %.3g requests/s met the SLO within capacity.max_steps (%d): the capacity is at least that", lo, s.cfg.MaxSteps)
	} else {
		env.Scalar("capacity_bracket_high_rps", failed, "requests/s")
	}
	if best != nil && best.point.GoodputRPS != nil {
		env.Scalar("goodput_at_capacity_rps", *best.point.GoodputRPS, "requests/s")
	}
	return nil
}

// knee is the highest load whose TTFT p99 (e2e p99 for requests that are
// not inference) stayed within twice base's, by achieved rate.
func knee(points []metrics.SweepPoint, base metrics.SweepPoint) *float64 {
	p99 := func(p metrics.SweepPoint) int64 {
		if p.TTFTP99Ns != nil {
			return *p.TTFTP99Ns
		}
		return p.E2EP99Ns
	}
	limit := 2 * p99(base)
	var out *float64
	for _, p := range points {
		if p.Completions > 0 && p99(p) <= limit && (out == nil || p.AchievedRPS > *out) {
			out = metrics.Float(p.AchievedRPS)
		}
	}
	return out
}

// routeOp sends a profile request to the nodes in turn.
func routeOp(name string, client *load.FastClient, r *target.Request, nodes []string) load.Operation {
	var next atomic.Uint64
	return load.Operation{Name: name, Do: func(ctx context.Context) error {
		base := nodes[int(next.Add(1)-1)%len(nodes)]
		call, err := r.Render(base, target.Vars{})
		if err != nil {
			return err
		}
		return client.Send(ctx, call.Method, call.URL, call.Headers, call.Body, judge2xx)
	}}
}
