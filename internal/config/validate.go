package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// problems collects every problem of a configuration, each naming the
// field, the value and the rule.
type problems struct{ errs []error }

func (p *problems) add(err error) { p.errs = append(p.errs, err) }

// bad records that field, holding value, breaks rule.
func (p *problems) bad(field string, value any, rule string) {
	p.add(fmt.Errorf("%s: %s, but is %v", field, rule, value))
}

// positiveList records a list that is empty or holds a value outside 1..max.
func (p *problems) positiveList(field string, list []int, max int) {
	if len(list) == 0 {
		p.bad(field, "[]", "must list at least one value")
	}
	for _, v := range list {
		if v < 1 || v > max {
			p.bad(field, list, fmt.Sprintf("must hold values from 1 to %d", max))
			return
		}
	}
}

// Validate reports every problem in c at once, joined, section by section
// in a stable order (maps are walked sorted).
func (c *Config) Validate() error {
	var p problems
	c.Execution.validate(&p)
	c.System.validate(&p, c.Cluster.Driver)
	validateCategories(&p, c.Categories)
	c.API.validate(&p)
	c.Consensus.validate(&p)
	c.Concurrency.validate(&p)
	c.LoadBalance.validate(&p)
	c.Inference.validate(&p)
	c.Inference.Workload.validate(&p)
	c.Capacity.validate(&p)
	c.Memory.validate(&p)
	c.Faults.validate(&p)
	c.Targets.validate(&p)
	c.Regression.validate(&p)
	c.Monitor.validate(&p)
	c.Cluster.validate(&p)
	c.AB.validate(&p, c.Cluster.Driver)
	c.Scenarios.validate(&p)
	c.Shard.validate(&p, c.Cluster.Driver)
	c.Merge.validate(&p)
	return errors.Join(p.errs...)
}

func (e Execution) validate(p *problems) {
	if e.Duration < time.Second {
		p.bad("execution.duration", e.Duration, "must be at least 1s")
	}
	if e.WarmupDuration < 0 {
		p.bad("execution.warmup_duration", e.WarmupDuration, "must not be negative")
	}
	if e.ConcurrentWorkers < 1 {
		p.bad("execution.concurrent_workers", e.ConcurrentWorkers, "must be at least 1")
	}
	if e.Count < 1 {
		p.bad("execution.count", e.Count, "must be at least 1")
	}
	if e.ScenarioTimeout < e.Duration+e.WarmupDuration {
		p.bad("execution.scenario_timeout", e.ScenarioTimeout,
			fmt.Sprintf("must be at least duration + warmup_duration (%v)", e.Duration+e.WarmupDuration))
	}
	if e.SampleInterval < 100*time.Millisecond {
		p.bad("execution.sample_interval", e.SampleInterval, "must be at least 100ms")
	}
	if e.HostCPUWarnPercent <= 0 || e.HostCPUWarnPercent > 100 {
		p.bad("execution.host_cpu_warn_percent", e.HostCPUWarnPercent, "must be in (0, 100]")
	}
	if e.HostStealWarnPercent <= 0 || e.HostStealWarnPercent > 100 {
		p.bad("execution.host_steal_warn_percent", e.HostStealWarnPercent, "must be in (0, 100]")
	}
}

func (s System) validate(p *problems, driver string) {
	if driver != "external" {
		p.positiveList("system.cluster_sizes", s.ClusterSizes, 15)
	}
	p.positiveList("system.model_sizes", s.ModelSizes, 100_000)
	p.positiveList("system.concurrency_levels", s.ConcurrencyLevels, 10_000)
}

func validateCategories(p *problems, cats map[string]bool) {
	var enabled int
	for _, name := range sortedKeys(cats) {
		on := cats[name]
		if !slices.Contains(categories, name) {
			p.add(fmt.Errorf("categories.%s: unknown category; valid categories are %s", name, strings.Join(categories, ", ")))
			continue
		}
		if on {
			enabled++
		}
	}
	if enabled == 0 && len(cats) > 0 {
		p.bad("categories", "all false", "must enable at least one category")
	}
}

func (a API) validate(p *problems) {
	if a.OpenLoopRate < 0 {
		p.bad("api.open_loop_rate", a.OpenLoopRate, "must not be negative (0 disables open-loop scenarios)")
	}
	if a.Arrival != "constant" && a.Arrival != "poisson" {
		p.bad("api.arrival", fmt.Sprintf("%q", a.Arrival), `must be "constant" or "poisson"`)
	}
	if a.MaxInFlight < 1 {
		p.bad("api.max_in_flight", a.MaxInFlight, "must be at least 1")
	}
	if a.RequestTimeout <= 0 {
		p.bad("api.request_timeout", a.RequestTimeout, "must be positive")
	}
}

func (k Consensus) validate(p *problems) {
	if k.HighConcurrency < 1 {
		p.bad("consensus.high_concurrency", k.HighConcurrency, "must be at least 1")
	}
	p.positiveList("consensus.value_sizes", k.ValueSizes, 4<<20)
	if k.KeySpace < 1 {
		p.bad("consensus.key_space", k.KeySpace, "must be at least 1")
	}
}

func (cc Concurrency) validate(p *problems) {
	var mixTotal int
	for _, op := range sortedKeys(cc.Mix) {
		if !slices.Contains(mixOps, op) {
			p.add(fmt.Errorf("concurrency.mix.%s: unknown operation; valid operations are %s", op, strings.Join(mixOps, ", ")))
		} else if w := cc.Mix[op]; w < 0 {
			p.bad("concurrency.mix."+op, w, "must not be negative")
		} else {
			mixTotal += w
		}
	}
	if mixTotal == 0 {
		p.bad("concurrency.mix", cc.Mix, "must give at least one operation a weight above 0")
	}
	if cc.HangThreshold < 100*time.Millisecond {
		p.bad("concurrency.hang_threshold", cc.HangThreshold, "must be at least 100ms")
	}
	if cc.StepStartRate <= 0 || cc.StepIncrement <= 0 {
		p.bad("concurrency.step_start_rate and step_increment", fmt.Sprintf("%v and %v", cc.StepStartRate, cc.StepIncrement), "must be above 0")
	}
	if cc.StepDuration < 500*time.Millisecond {
		p.bad("concurrency.step_duration", cc.StepDuration, "must be at least 500ms")
	}
	if cc.MaxSteps < 1 {
		p.bad("concurrency.max_steps", cc.MaxSteps, "must be at least 1")
	}
}

func (lb LoadBalance) validate(p *problems) {
	for _, name := range lb.Policies {
		if !slices.Contains(policies, name) {
			p.add(fmt.Errorf("loadbalance.policies: unknown policy %q; valid policies are %s", name, strings.Join(policies, ", ")))
		}
	}
	if lb.ClientsPerSlot < 1 {
		p.bad("loadbalance.clients_per_slot", lb.ClientsPerSlot, "must be at least 1")
	}
}

func (in Inference) validate(p *problems) {
	if in.API != "" && in.API != "ollama" && in.API != "openai" {
		p.bad("inference.api", fmt.Sprintf("%q", in.API), `must be "ollama", "openai" or empty (the target profile's)`)
	}
	if in.OpenAIRoute != "chat" && in.OpenAIRoute != "completions" {
		p.bad("inference.openai_route", fmt.Sprintf("%q", in.OpenAIRoute), `must be "chat" or "completions"`)
	}
	if in.Model == "" || strings.ContainsAny(in.Model, "/\\") {
		p.bad("inference.model", fmt.Sprintf("%q", in.Model), "must be a name without slashes")
	}
	if in.NumPredict < 2 || in.NumPredict > 4096 {
		p.bad("inference.num_predict", in.NumPredict, "must be from 2 to 4096 (TPOT needs two tokens)")
	}
	if in.Rate <= 0 {
		p.bad("inference.rate", in.Rate, "must be above 0")
	}
	if in.SLOTTFT <= 0 || in.SLOTPOT <= 0 {
		p.bad("inference.slo_ttft and slo_tpot", fmt.Sprintf("%v and %v", in.SLOTTFT, in.SLOTPOT), "must be positive")
	}
}

func (m Memory) validate(p *problems) {
	if m.LeakSlopeMBPerMin <= 0 {
		p.bad("memory.leak_slope_mb_per_min", m.LeakSlopeMBPerMin, "must be above 0")
	}
	if m.MinDuration < 6*time.Second {
		p.bad("memory.min_duration", m.MinDuration, "must be at least 6s: the leak slope needs collections spread over at least 5s")
	}
}

func (t Targets) validate(p *problems) {
	for _, size := range sortedKeys(t.ThroughputRPS) {
		rps := t.ThroughputRPS[size]
		if n, err := strconv.Atoi(size); err != nil || n < 1 {
			p.bad("targets.throughput_rps."+size, size, "keys must be cluster sizes (whole numbers from 1)")
		}
		if rps < 0 {
			p.bad("targets.throughput_rps."+size, rps, "must not be negative")
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"targets.latency_p50", t.LatencyP50}, {"targets.latency_p95", t.LatencyP95}, {"targets.latency_p99", t.LatencyP99}, {"targets.recovery_time", t.RecoveryTime}} {
		if d.v < 0 {
			p.bad(d.name, d.v, "must not be negative (0 disables the target)")
		}
	}
	if t.CPUPercent < 0 || t.CPUPercent > 100*1024 {
		p.bad("targets.cpu_percent", t.CPUPercent, "must be between 0 and 100 per core")
	}
	if t.MemoryPerNodeMB < 0 {
		p.bad("targets.memory_per_node_mb", t.MemoryPerNodeMB, "must not be negative")
	}
	if t.ErrorRatePercent < 0 || t.ErrorRatePercent > 100 {
		p.bad("targets.error_rate_percent", t.ErrorRatePercent, "must be between 0 and 100")
	}
}

// Validate reports every problem of regression settings alone (compare
// checks the settings it judges with once flags have changed them).
func (r Regression) Validate() error {
	var p problems
	r.validate(&p)
	return errors.Join(p.errs...)
}

func (r Regression) validate(p *problems) {
	if r.TolerancePercent <= 0 || r.TolerancePercent >= 1000 {
		p.bad("regression.tolerance_percent", r.TolerancePercent, "must be above 0 and below 1000")
	}
	for _, m := range sortedKeys(r.Metrics) {
		if !slices.Contains(regressionMetrics, m) {
			p.add(fmt.Errorf("regression.metrics.%s: unknown metric; valid metrics are %s", m, strings.Join(regressionMetrics, ", ")))
		} else if v := r.Metrics[m]; v <= 0 {
			p.bad("regression.metrics."+m, v, "must be above 0")
		}
	}
	for _, s := range sortedKeys(r.Scenarios) {
		if v := r.Scenarios[s]; v <= 0 {
			p.bad("regression.scenarios."+s, v, "must be above 0")
		}
	}
	if r.Alpha <= 0 || r.Alpha >= 1 {
		p.bad("regression.alpha", r.Alpha, "must be between 0 and 1")
	}
	if r.MinSamples < 2 {
		p.bad("regression.min_samples", r.MinSamples, "must be at least 2")
	} else if r.Alpha > 0 && r.Alpha < 1 && MinUTestP(r.MinSamples) >= r.Alpha {
		p.add(fmt.Errorf("regression.min_samples: with %d repetitions a side the Mann-Whitney U test can never find a change significant at alpha %g "+
			"(its smallest p is %.3g); use min_samples %d or more, or a larger regression.alpha",
			r.MinSamples, r.Alpha, MinUTestP(r.MinSamples), MinUTestSamples(r.Alpha)))
	}
}

func (m Monitor) validate(p *problems) {
	if m.Address == "" {
		p.bad("monitor.address", `""`, "must be host:port")
	}
	if m.Interval < 100*time.Millisecond {
		p.bad("monitor.interval", m.Interval, "must be at least 100ms")
	}
	if m.LatencyWindow < m.Interval {
		p.bad("monitor.latency_window", m.LatencyWindow, fmt.Sprintf("must be at least monitor.interval (%v)", m.Interval))
	}
	for i, a := range m.Alerts {
		field := fmt.Sprintf("monitor.alerts[%d]", i)
		if a.Name == "" {
			p.bad(field+".name", `""`, "must not be empty")
		}
		if !slices.Contains(alertMetrics, a.Metric) {
			p.add(fmt.Errorf("%s.metric: unknown metric %q; valid metrics are %s", field, a.Metric, strings.Join(alertMetrics, ", ")))
		}
		if a.Condition != ">" && a.Condition != "<" {
			p.bad(field+".condition", fmt.Sprintf("%q", a.Condition), `must be ">" or "<"`)
		}
		if a.For < 0 {
			p.bad(field+".for", a.For, "must not be negative")
		}
		if !slices.Contains([]string{"info", "warning", "critical"}, a.Severity) {
			p.bad(field+".severity", fmt.Sprintf("%q", a.Severity), "must be info, warning or critical")
		}
		for j, act := range a.Actions {
			af := fmt.Sprintf("%s.actions[%d]", field, j)
			if (act.Webhook == "") == (len(act.Command) == 0) {
				p.bad(af, "", "give exactly one of webhook (a URL) and command (argv)")
			}
			if act.Webhook != "" {
				if u, err := url.Parse(act.Webhook); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					p.bad(af+".webhook", act.Webhook, "must be an http or https URL")
				}
			}
			if act.Timeout < 0 || act.Timeout > time.Minute {
				p.bad(af+".timeout", act.Timeout, "must be from 0 (the default, 5s) to 1m")
			}
		}
	}
}

func (cl Cluster) validate(p *problems) {
	if cl.RateLimit != "" {
		if _, err := ParseRate(cl.RateLimit); err != nil {
			p.add(fmt.Errorf("cluster.rate_limit: %v", err))
		}
	}
	if cl.Target == "" {
		p.bad("cluster.target", `""`, "must name a target profile (odbench-node, etcd, ... or a profile file)")
	}
	if !slices.Contains(drivers, cl.Driver) {
		p.add(fmt.Errorf("cluster.driver: unknown driver %q; valid drivers are %s", cl.Driver, strings.Join(drivers, ", ")))
	}
	if cl.Driver == "external" && len(cl.Targets) == 0 {
		p.bad("cluster.targets", "[]", `must list node URLs when cluster.driver is "external" (or pass --targets)`)
	}
	for _, u := range cl.Targets {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			p.bad("cluster.targets", fmt.Sprintf("%q", u), "must hold http:// or https:// URLs")
		}
	}
	if cl.StartTimeout < time.Second {
		p.bad("cluster.start_timeout", cl.StartTimeout, "must be at least 1s")
	}
	if cl.SettleTimeout < time.Second {
		p.bad("cluster.settle_timeout", cl.SettleTimeout, "must be at least 1s")
	}
	if cl.Local.Slots < 1 {
		p.bad("cluster.local.slots", cl.Local.Slots, "must be at least 1")
	}
	if cl.Local.TokenDelay < 0 {
		p.bad("cluster.local.token_delay", cl.Local.TokenDelay, "must not be negative")
	}
	cl.Local.validateTimings(p)
}

// validateTimings applies hashicorp/raft's own rules: every timing at
// least 5ms, the lease at most the heartbeat timeout, the election timeout
// at least it.
func (l Local) validateTimings(p *problems) {
	for _, t := range []struct {
		field string
		v     time.Duration
	}{{"heartbeat_timeout", l.HeartbeatTimeout}, {"election_timeout", l.ElectionTimeout}, {"leader_lease", l.LeaderLease}} {
		if t.v < 5*time.Millisecond {
			p.bad("cluster.local."+t.field, t.v, "must be at least 5ms")
		}
	}
	if l.LeaderLease > l.HeartbeatTimeout {
		p.bad("cluster.local.leader_lease", l.LeaderLease, fmt.Sprintf("must be at most cluster.local.heartbeat_timeout (%v)", l.HeartbeatTimeout))
	}
	if l.ElectionTimeout < l.HeartbeatTimeout {
		p.bad("cluster.local.election_timeout", l.ElectionTimeout, fmt.Sprintf("must be at least cluster.local.heartbeat_timeout (%v)", l.HeartbeatTimeout))
	}
}

func (ab AB) validate(p *problems, driver string) {
	if ab.Binary != "" && driver == "external" {
		p.bad("ab.binary", fmt.Sprintf("%q", ab.Binary), "needs the local driver: odbench cannot start nodes of an external cluster")
	}
	if ab.Binary == "" && (len(ab.BaselineArgs) > 0 || len(ab.CurrentArgs) > 0) {
		p.bad("ab.baseline_args and ab.current_args", fmt.Sprintf("%v and %v", ab.BaselineArgs, ab.CurrentArgs), "need ab.binary (run --ab OLD_BINARY)")
	}
}
