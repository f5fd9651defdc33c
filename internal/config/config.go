package config

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Categories lists every scenario category odbench knows, in run order.
var Categories = []string{
	"consensus", "p2p", "models", "api", "memory",
	"concurrency", "faults", "loadbalance", "inference",
}

// categoryAliases maps the older framework's category keys to odbench's.
var categoryAliases = map[string]string{
	"p2p_networking":     "p2p",
	"model_distribution": "models",
	"api_endpoints":      "api",
	"memory_usage":       "memory",
	"concurrent_ops":     "concurrency",
	"fault_tolerance":    "faults",
	"load_balancing":     "loadbalance",
}

// Drivers lists the cluster drivers.
var Drivers = []string{"local", "exec", "external"}

// Config is the whole effective configuration of one odbench invocation.
type Config struct {
	Execution   Execution       `mapstructure:"execution" json:"execution"`
	System      System          `mapstructure:"system" json:"system"`
	Categories  map[string]bool `mapstructure:"categories" json:"categories"`
	API         API             `mapstructure:"api" json:"api"`
	Consensus   Consensus       `mapstructure:"consensus" json:"consensus"`
	Concurrency Concurrency     `mapstructure:"concurrency" json:"concurrency"`
	LoadBalance LoadBalance     `mapstructure:"loadbalance" json:"loadbalance"`
	Inference   Inference       `mapstructure:"inference" json:"inference"`
	Memory      Memory          `mapstructure:"memory" json:"memory"`
	Targets     Targets         `mapstructure:"targets" json:"targets"`
	Regression  Regression      `mapstructure:"regression" json:"regression"`
	Monitor     Monitor         `mapstructure:"monitor" json:"monitor"`
	Cluster     Cluster         `mapstructure:"cluster" json:"cluster"`
	AB          AB              `mapstructure:"ab" json:"ab"`
}

// AB configures an interleaved A/B run (run --ab OLD_BINARY): every
// repetition runs the plan on a cluster of the baseline's node binary and
// on one of the current, alternating, and compare judges the two sides.
type AB struct {
	// Binary is the baseline's node binary: an odbench for the local
	// driver, the node program for exec. Empty: no A/B run.
	Binary string `mapstructure:"binary" json:"binary,omitempty"`
	// BaselineArgs and CurrentArgs are appended to the node command lines
	// of one side only (a planted slowdown, a feature flag).
	BaselineArgs []string `mapstructure:"baseline_args" json:"baseline_args,omitempty"`
	CurrentArgs  []string `mapstructure:"current_args" json:"current_args,omitempty"`
}

// Execution says how long and how often each scenario runs.
type Execution struct {
	// Duration is the measured time per scenario (after warm-up).
	Duration time.Duration `mapstructure:"duration" json:"duration"`
	// WarmupDuration runs the same load before measuring; its results are discarded.
	WarmupDuration time.Duration `mapstructure:"warmup_duration" json:"warmup_duration"`
	// ConcurrentWorkers is the client count of "multi-threaded" scenarios.
	ConcurrentWorkers int `mapstructure:"concurrent_workers" json:"concurrent_workers"`
	// Count repeats every scenario, for statistics in compare.
	Count int `mapstructure:"count" json:"count"`
	// ScenarioTimeout bounds one scenario including warm-up and checks.
	ScenarioTimeout time.Duration `mapstructure:"scenario_timeout" json:"scenario_timeout"`
	// FailFast stops the run at the first failed scenario.
	FailFast bool `mapstructure:"fail_fast" json:"fail_fast"`
	// Scenarios, when not empty, keeps only the scenarios these select: exact
	// names, whole-segment prefixes ("api/health_check") or globs ("api/*/rate=*").
	Scenarios []string `mapstructure:"scenarios" json:"scenarios"`
	// SampleInterval is the resource sampler's period.
	SampleInterval time.Duration `mapstructure:"sample_interval" json:"sample_interval"`
	// Seed seeds every scenario's arrivals and operation picks (each
	// repetition's seed derives from it); 0 picks one at random, and the
	// results file records the one used.
	Seed uint64 `mapstructure:"seed" json:"seed"`
	// HostCPUWarnPercent: host CPU above this during a measurement marks the scenario host-bound.
	HostCPUWarnPercent float64 `mapstructure:"host_cpu_warn_percent" json:"host_cpu_warn_percent"`
	// HostStealWarnPercent: CPU time taken by the hypervisor (steal) above
	// this during a measurement marks the scenario host-bound too.
	HostStealWarnPercent float64 `mapstructure:"host_steal_warn_percent" json:"host_steal_warn_percent"`
}

// System describes the sizes the plan iterates over.
type System struct {
	ClusterSizes      []int `mapstructure:"cluster_sizes" json:"cluster_sizes"`
	ModelSizes        []int `mapstructure:"model_sizes" json:"model_sizes"` // MB
	ConcurrencyLevels []int `mapstructure:"concurrency_levels" json:"concurrency_levels"`
}

// API configures the api category.
type API struct {
	// OpenLoopRate is the arrival rate of the open-loop api scenarios, in requests per second; 0 disables them.
	OpenLoopRate float64 `mapstructure:"open_loop_rate" json:"open_loop_rate"`
	// Arrival is "constant" or "poisson".
	Arrival string `mapstructure:"arrival" json:"arrival"`
	// MaxInFlight bounds open-loop requests in flight.
	MaxInFlight int `mapstructure:"max_in_flight" json:"max_in_flight"`
	// RequestTimeout bounds each request.
	RequestTimeout time.Duration `mapstructure:"request_timeout" json:"request_timeout"`
}

// Consensus configures the consensus category (KV writes through Raft).
type Consensus struct {
	// HighConcurrency is the client count of the high-concurrency scenario.
	HighConcurrency int `mapstructure:"high_concurrency" json:"high_concurrency"`
	// ValueSizes are the value sizes of the data-size scaling scenarios, in bytes.
	ValueSizes []int `mapstructure:"value_sizes" json:"value_sizes"`
	// KeySpace is how many distinct keys a scenario writes (and deletes afterwards).
	KeySpace int `mapstructure:"key_space" json:"key_space"`
}

// Concurrency configures the concurrency category.
type Concurrency struct {
	// Mix weighs the operations of the mixed workload: kv_read, kv_write, api_read, generate.
	Mix map[string]int `mapstructure:"mix" json:"mix"`
	// HangThreshold: an operation outstanding longer than this is a possible deadlock.
	HangThreshold time.Duration `mapstructure:"hang_threshold" json:"hang_threshold"`
	// Step ramp of the stress scenario, in operations per second.
	StepStartRate float64       `mapstructure:"step_start_rate" json:"step_start_rate"`
	StepIncrement float64       `mapstructure:"step_increment" json:"step_increment"`
	StepDuration  time.Duration `mapstructure:"step_duration" json:"step_duration"`
	MaxSteps      int           `mapstructure:"max_steps" json:"max_steps"`
}

// MixOps are the operation names the mixed workload knows.
var MixOps = []string{"kv_read", "kv_write", "api_read", "generate"}

// LoadBalance configures the loadbalance category.
type LoadBalance struct {
	// Policies to compare, where the target can switch policy.
	Policies []string `mapstructure:"policies" json:"policies"`
	// ClientsPerSlot sizes the load: clients = slots per node × nodes × this.
	ClientsPerSlot int `mapstructure:"clients_per_slot" json:"clients_per_slot"`
}

// Inference configures the inference category and the api category's
// generate and chat scenarios.
type Inference struct {
	Model      string `mapstructure:"model" json:"model"`
	NumPredict int    `mapstructure:"num_predict" json:"num_predict"`
	Prompt     string `mapstructure:"prompt" json:"prompt"`
	// Rate is the Poisson arrival rate of open-loop inference scenarios, in requests per second.
	Rate float64 `mapstructure:"rate" json:"rate"`
	// SLOs for goodput: a request counts when TTFT and TPOT are within them.
	SLOTTFT time.Duration `mapstructure:"slo_ttft" json:"slo_ttft"`
	SLOTPOT time.Duration `mapstructure:"slo_tpot" json:"slo_tpot"`
}

// Memory configures the memory category.
type Memory struct {
	// LeakSlopeMBPerMin: a node's live heap growing faster than this is a possible leak.
	LeakSlopeMBPerMin float64 `mapstructure:"leak_slope_mb_per_min" json:"leak_slope_mb_per_min"`
}

// Targets are the thresholds a run is judged against.
type Targets struct {
	// ThroughputRPS maps a cluster size ("1", "3", ...) to the minimum requests per second.
	ThroughputRPS    map[string]float64 `mapstructure:"throughput_rps" json:"throughput_rps"`
	LatencyP50       time.Duration      `mapstructure:"latency_p50" json:"latency_p50"`
	LatencyP95       time.Duration      `mapstructure:"latency_p95" json:"latency_p95"`
	LatencyP99       time.Duration      `mapstructure:"latency_p99" json:"latency_p99"`
	CPUPercent       float64            `mapstructure:"cpu_percent" json:"cpu_percent"`
	MemoryPerNodeMB  float64            `mapstructure:"memory_per_node_mb" json:"memory_per_node_mb"`
	ErrorRatePercent float64            `mapstructure:"error_rate_percent" json:"error_rate_percent"`
}

// Regression sets how compare decides a regression.
type Regression struct {
	TolerancePercent float64 `mapstructure:"tolerance_percent" json:"tolerance_percent"`
	// Metrics overrides the tolerance per metric (throughput, p50, p95, p99, error_rate, peak_rss).
	Metrics map[string]float64 `mapstructure:"metrics" json:"metrics"`
	// Scenarios overrides the tolerance per scenario name prefix.
	Scenarios map[string]float64 `mapstructure:"scenarios" json:"scenarios"`
	// Alpha is the significance level of the Mann-Whitney U test.
	Alpha float64 `mapstructure:"alpha" json:"alpha"`
	// MinSamples is the repetitions each side needs before the test is used.
	MinSamples int `mapstructure:"min_samples" json:"min_samples"`
}

// Monitor configures the live dashboard.
type Monitor struct {
	Address  string        `mapstructure:"address" json:"address"`
	Interval time.Duration `mapstructure:"interval" json:"interval"`
	Alerts   []AlertRule   `mapstructure:"alerts" json:"alerts"`
}

// AlertRule fires when Metric compares to Threshold by Condition for at least For.
type AlertRule struct {
	Name      string        `mapstructure:"name" json:"name"`
	Metric    string        `mapstructure:"metric" json:"metric"`
	Condition string        `mapstructure:"condition" json:"condition"` // ">" or "<"
	Threshold float64       `mapstructure:"threshold" json:"threshold"`
	For       time.Duration `mapstructure:"for" json:"for"`
	Severity  string        `mapstructure:"severity" json:"severity"` // info, warning, critical
}

// AlertMetrics are the metric names alert rules may watch.
var AlertMetrics = []string{
	"cpu_percent", "memory_percent", "memory_mb", "goroutines", "net_mb_per_s",
	"requests_per_s", "ops_per_s", "latency_avg_ms", "latency_p95_ms", "error_rate_percent",
	"steal_percent",
}

// Cluster selects and configures the cluster driver.
type Cluster struct {
	Driver string `mapstructure:"driver" json:"driver"`
	// Targets are the node API URLs of an external cluster.
	Targets []string `mapstructure:"targets" json:"targets"`
	// StartTimeout bounds cluster start-up (to leader and full membership).
	StartTimeout time.Duration `mapstructure:"start_timeout" json:"start_timeout"`
	Local        Local         `mapstructure:"local" json:"local"`
	Exec         Exec          `mapstructure:"exec" json:"exec"`
}

// Exec configures the exec driver: any node binary from templates (Go
// text/template over ID, Index, DataDir, APIPort, P2PPort, RaftPort,
// WebPort, JoinAddr, Peers, First, Captured).
type Exec struct {
	Command         []string          `mapstructure:"command" json:"command"`
	Env             map[string]string `mapstructure:"env" json:"env"`
	APIURL          string            `mapstructure:"api_url" json:"api_url"`
	HealthURL       string            `mapstructure:"health_url" json:"health_url"`
	ReadyPattern    string            `mapstructure:"ready_pattern" json:"ready_pattern"`
	ClusterReadyURL string            `mapstructure:"cluster_ready_url" json:"cluster_ready_url"`
	Capture         map[string]string `mapstructure:"capture" json:"capture"`
	ConfigFile      string            `mapstructure:"config_file" json:"config_file"`
	ConfigTemplate  string            `mapstructure:"config_template" json:"config_template"`
	// VersionCommand prints the node binary's version (argv, no shell),
	// recorded in the results as the target's build.
	VersionCommand []string `mapstructure:"version_command" json:"version_command"`
}

// Local configures the embedded reference node started by the local driver.
type Local struct {
	// Fsync makes Raft's log store sync every write (true is the honest default).
	Fsync bool `mapstructure:"fsync" json:"fsync"`
	// Slots is each node's parallel inference slots.
	Slots int `mapstructure:"slots" json:"slots"`
	// TokenDelay is the simulated time per generated token.
	TokenDelay time.Duration `mapstructure:"token_delay" json:"token_delay"`
	// ExtraArgs are appended to every `odbench node` command line.
	ExtraArgs []string `mapstructure:"extra_args" json:"extra_args"`
	// Binary is the odbench executable to start nodes from; empty means this one.
	Binary string `mapstructure:"binary" json:"binary,omitempty"`
}

// Default returns the built-in configuration: short enough to try, honest
// enough to mean something.
func Default() Config {
	cats := map[string]bool{}
	for _, c := range Categories {
		cats[c] = true
	}
	return Config{
		Execution: Execution{
			Duration:             10 * time.Second,
			WarmupDuration:       2 * time.Second,
			ConcurrentWorkers:    8,
			Count:                1,
			ScenarioTimeout:      2 * time.Minute,
			SampleInterval:       time.Second,
			HostCPUWarnPercent:   90,
			HostStealWarnPercent: 10,
		},
		System: System{
			ClusterSizes:      []int{1, 3},
			ModelSizes:        []int{100},
			ConcurrencyLevels: []int{1, 10, 50},
		},
		Categories: cats,
		API: API{
			OpenLoopRate:   200,
			Arrival:        "constant",
			MaxInFlight:    256,
			RequestTimeout: 10 * time.Second,
		},
		Consensus: Consensus{HighConcurrency: 256, ValueSizes: []int{64, 1024, 16384, 262144}, KeySpace: 1000},
		Concurrency: Concurrency{
			Mix:           map[string]int{"kv_read": 50, "kv_write": 20, "api_read": 20, "generate": 10},
			HangThreshold: 10 * time.Second,
			StepStartRate: 100, StepIncrement: 200, StepDuration: 2 * time.Second, MaxSteps: 10,
		},
		LoadBalance: LoadBalance{Policies: []string{"round_robin", "least_connections", "random"}, ClientsPerSlot: 2},
		Inference: Inference{Model: "odbench-bench", NumPredict: 16, Prompt: "Why is the sky blue? Answer in one sentence.",
			Rate: 20, SLOTTFT: 500 * time.Millisecond, SLOTPOT: 50 * time.Millisecond},
		Memory: Memory{LeakSlopeMBPerMin: 5},
		Targets: Targets{
			ThroughputRPS:    map[string]float64{"1": 100, "3": 250, "5": 400},
			LatencyP50:       50 * time.Millisecond,
			LatencyP95:       200 * time.Millisecond,
			LatencyP99:       500 * time.Millisecond,
			CPUPercent:       80,
			MemoryPerNodeMB:  2048,
			ErrorRatePercent: 1,
		},
		Regression: Regression{
			TolerancePercent: 10,
			Metrics:          map[string]float64{},
			Scenarios:        map[string]float64{},
			Alpha:            0.05,
			MinSamples:       4,
		},
		Monitor: Monitor{
			Address:  "127.0.0.1:8080",
			Interval: time.Second,
			Alerts: []AlertRule{
				{Name: "high_cpu", Metric: "cpu_percent", Condition: ">", Threshold: 80, For: 30 * time.Second, Severity: "warning"},
				{Name: "high_memory", Metric: "memory_percent", Condition: ">", Threshold: 85, For: 30 * time.Second, Severity: "warning"},
				{Name: "high_latency", Metric: "latency_p95_ms", Condition: ">", Threshold: 1000, For: 30 * time.Second, Severity: "critical"},
				{Name: "high_error_rate", Metric: "error_rate_percent", Condition: ">", Threshold: 5, For: 30 * time.Second, Severity: "critical"},
				{Name: "low_throughput", Metric: "requests_per_s", Condition: "<", Threshold: 10, For: time.Minute, Severity: "warning"},
			},
		},
		Cluster: Cluster{
			Driver:       "local",
			StartTimeout: 30 * time.Second,
			Local: Local{
				Fsync:      true,
				Slots:      4,
				TokenDelay: 5 * time.Millisecond,
			},
		},
	}
}

// NormalizeCategories folds the older framework's category keys into
// odbench's names, so `api_endpoints: true` means `api: true`.
func (c *Config) NormalizeCategories() {
	for old, name := range categoryAliases {
		if v, ok := c.Categories[old]; ok {
			c.Categories[name] = v
			delete(c.Categories, old)
		}
	}
}

// EnabledCategories returns the enabled categories in run order.
func (c *Config) EnabledCategories() []string {
	var out []string
	for _, name := range Categories {
		if c.Categories[name] {
			out = append(out, name)
		}
	}
	return out
}

// OnlyCategories enables exactly the named categories (from --categories).
// Unknown names are reported by Validate.
func (c *Config) OnlyCategories(names []string) {
	c.Categories = map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if alias, ok := categoryAliases[n]; ok {
			n = alias
		}
		c.Categories[n] = true
	}
}

// Validate reports every problem in c at once, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field string, value any, rule string) {
		errs = append(errs, fmt.Errorf("%s: %s, but is %v", field, rule, value))
	}
	e := c.Execution
	if e.Duration < time.Second {
		bad("execution.duration", e.Duration, "must be at least 1s")
	}
	if e.WarmupDuration < 0 {
		bad("execution.warmup_duration", e.WarmupDuration, "must not be negative")
	}
	if e.ConcurrentWorkers < 1 {
		bad("execution.concurrent_workers", e.ConcurrentWorkers, "must be at least 1")
	}
	if e.Count < 1 {
		bad("execution.count", e.Count, "must be at least 1")
	}
	if e.ScenarioTimeout < e.Duration+e.WarmupDuration {
		bad("execution.scenario_timeout", e.ScenarioTimeout,
			fmt.Sprintf("must be at least duration + warmup_duration (%v)", e.Duration+e.WarmupDuration))
	}
	if e.SampleInterval < 100*time.Millisecond {
		bad("execution.sample_interval", e.SampleInterval, "must be at least 100ms")
	}
	if e.HostCPUWarnPercent <= 0 || e.HostCPUWarnPercent > 100 {
		bad("execution.host_cpu_warn_percent", e.HostCPUWarnPercent, "must be in (0, 100]")
	}
	if e.HostStealWarnPercent <= 0 || e.HostStealWarnPercent > 100 {
		bad("execution.host_steal_warn_percent", e.HostStealWarnPercent, "must be in (0, 100]")
	}
	positiveList := func(field string, list []int, max int) {
		if len(list) == 0 {
			bad(field, "[]", "must list at least one value")
		}
		for _, v := range list {
			if v < 1 || v > max {
				bad(field, list, fmt.Sprintf("must hold values from 1 to %d", max))
				return
			}
		}
	}
	if c.Cluster.Driver != "external" {
		positiveList("system.cluster_sizes", c.System.ClusterSizes, 15)
	}
	positiveList("system.model_sizes", c.System.ModelSizes, 100_000)
	positiveList("system.concurrency_levels", c.System.ConcurrencyLevels, 10_000)

	var enabled int
	for _, name := range sortedKeys(c.Categories) {
		on := c.Categories[name]
		if !slices.Contains(Categories, name) {
			errs = append(errs, fmt.Errorf("categories.%s: unknown category; valid categories are %s", name, strings.Join(Categories, ", ")))
			continue
		}
		if on {
			enabled++
		}
	}
	if enabled == 0 && len(c.Categories) > 0 {
		bad("categories", "all false", "must enable at least one category")
	}

	if c.API.OpenLoopRate < 0 {
		bad("api.open_loop_rate", c.API.OpenLoopRate, "must not be negative (0 disables open-loop scenarios)")
	}
	if c.API.Arrival != "constant" && c.API.Arrival != "poisson" {
		bad("api.arrival", fmt.Sprintf("%q", c.API.Arrival), `must be "constant" or "poisson"`)
	}
	if c.API.MaxInFlight < 1 {
		bad("api.max_in_flight", c.API.MaxInFlight, "must be at least 1")
	}
	if c.API.RequestTimeout <= 0 {
		bad("api.request_timeout", c.API.RequestTimeout, "must be positive")
	}

	if c.Consensus.HighConcurrency < 1 {
		bad("consensus.high_concurrency", c.Consensus.HighConcurrency, "must be at least 1")
	}
	positiveList("consensus.value_sizes", c.Consensus.ValueSizes, 4<<20)
	if c.Consensus.KeySpace < 1 {
		bad("consensus.key_space", c.Consensus.KeySpace, "must be at least 1")
	}
	var mixTotal int
	for _, op := range sortedKeys(c.Concurrency.Mix) {
		if !slices.Contains(MixOps, op) {
			errs = append(errs, fmt.Errorf("concurrency.mix.%s: unknown operation; valid operations are %s", op, strings.Join(MixOps, ", ")))
		} else if w := c.Concurrency.Mix[op]; w < 0 {
			bad("concurrency.mix."+op, w, "must not be negative")
		} else {
			mixTotal += w
		}
	}
	if mixTotal == 0 {
		bad("concurrency.mix", c.Concurrency.Mix, "must give at least one operation a weight above 0")
	}
	if c.Concurrency.HangThreshold < 100*time.Millisecond {
		bad("concurrency.hang_threshold", c.Concurrency.HangThreshold, "must be at least 100ms")
	}
	if c.Concurrency.StepStartRate <= 0 || c.Concurrency.StepIncrement <= 0 {
		bad("concurrency.step_start_rate and step_increment", fmt.Sprintf("%v and %v", c.Concurrency.StepStartRate, c.Concurrency.StepIncrement), "must be above 0")
	}
	if c.Concurrency.StepDuration < 500*time.Millisecond {
		bad("concurrency.step_duration", c.Concurrency.StepDuration, "must be at least 500ms")
	}
	if c.Concurrency.MaxSteps < 1 {
		bad("concurrency.max_steps", c.Concurrency.MaxSteps, "must be at least 1")
	}
	for _, p := range c.LoadBalance.Policies {
		if !slices.Contains(Policies, p) {
			errs = append(errs, fmt.Errorf("loadbalance.policies: unknown policy %q; valid policies are %s", p, strings.Join(Policies, ", ")))
		}
	}
	if c.LoadBalance.ClientsPerSlot < 1 {
		bad("loadbalance.clients_per_slot", c.LoadBalance.ClientsPerSlot, "must be at least 1")
	}
	in := c.Inference
	if in.Model == "" || strings.ContainsAny(in.Model, "/\\") {
		bad("inference.model", fmt.Sprintf("%q", in.Model), "must be a name without slashes")
	}
	if in.NumPredict < 2 || in.NumPredict > 4096 {
		bad("inference.num_predict", in.NumPredict, "must be from 2 to 4096 (TPOT needs two tokens)")
	}
	if in.Rate <= 0 {
		bad("inference.rate", in.Rate, "must be above 0")
	}
	if in.SLOTTFT <= 0 || in.SLOTPOT <= 0 {
		bad("inference.slo_ttft and slo_tpot", fmt.Sprintf("%v and %v", in.SLOTTFT, in.SLOTPOT), "must be positive")
	}

	if c.Memory.LeakSlopeMBPerMin <= 0 {
		bad("memory.leak_slope_mb_per_min", c.Memory.LeakSlopeMBPerMin, "must be above 0")
	}

	t := c.Targets
	for _, size := range sortedKeys(t.ThroughputRPS) {
		rps := t.ThroughputRPS[size]
		if n, err := strconv.Atoi(size); err != nil || n < 1 {
			bad("targets.throughput_rps."+size, size, "keys must be cluster sizes (whole numbers from 1)")
		}
		if rps < 0 {
			bad("targets.throughput_rps."+size, rps, "must not be negative")
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"targets.latency_p50", t.LatencyP50}, {"targets.latency_p95", t.LatencyP95}, {"targets.latency_p99", t.LatencyP99}} {
		if d.v < 0 {
			bad(d.name, d.v, "must not be negative (0 disables the target)")
		}
	}
	if t.CPUPercent < 0 || t.CPUPercent > 100*1024 {
		bad("targets.cpu_percent", t.CPUPercent, "must be between 0 and 100 per core")
	}
	if t.MemoryPerNodeMB < 0 {
		bad("targets.memory_per_node_mb", t.MemoryPerNodeMB, "must not be negative")
	}
	if t.ErrorRatePercent < 0 || t.ErrorRatePercent > 100 {
		bad("targets.error_rate_percent", t.ErrorRatePercent, "must be between 0 and 100")
	}

	r := c.Regression
	if r.TolerancePercent <= 0 || r.TolerancePercent >= 1000 {
		bad("regression.tolerance_percent", r.TolerancePercent, "must be above 0 and below 1000")
	}
	for _, m := range sortedKeys(r.Metrics) {
		if !slices.Contains(RegressionMetrics, m) {
			errs = append(errs, fmt.Errorf("regression.metrics.%s: unknown metric; valid metrics are %s", m, strings.Join(RegressionMetrics, ", ")))
		} else if v := r.Metrics[m]; v <= 0 {
			bad("regression.metrics."+m, v, "must be above 0")
		}
	}
	for _, s := range sortedKeys(r.Scenarios) {
		if v := r.Scenarios[s]; v <= 0 {
			bad("regression.scenarios."+s, v, "must be above 0")
		}
	}
	if r.Alpha <= 0 || r.Alpha >= 1 {
		bad("regression.alpha", r.Alpha, "must be between 0 and 1")
	}
	if r.MinSamples < 2 {
		bad("regression.min_samples", r.MinSamples, "must be at least 2")
	} else if r.Alpha > 0 && r.Alpha < 1 && MinUTestP(r.MinSamples) >= r.Alpha {
		errs = append(errs, fmt.Errorf("regression.min_samples: with %d repetitions a side the Mann-Whitney U test can never find a change significant at alpha %g "+
			"(its smallest p is %.3g); use min_samples %d or more, or a larger regression.alpha",
			r.MinSamples, r.Alpha, MinUTestP(r.MinSamples), MinUTestSamples(r.Alpha)))
	}

	if c.Monitor.Address == "" {
		bad("monitor.address", `""`, "must be host:port")
	}
	if c.Monitor.Interval < 100*time.Millisecond {
		bad("monitor.interval", c.Monitor.Interval, "must be at least 100ms")
	}
	for i, a := range c.Monitor.Alerts {
		field := fmt.Sprintf("monitor.alerts[%d]", i)
		if a.Name == "" {
			bad(field+".name", `""`, "must not be empty")
		}
		if !slices.Contains(AlertMetrics, a.Metric) {
			errs = append(errs, fmt.Errorf("%s.metric: unknown metric %q; valid metrics are %s", field, a.Metric, strings.Join(AlertMetrics, ", ")))
		}
		if a.Condition != ">" && a.Condition != "<" {
			bad(field+".condition", fmt.Sprintf("%q", a.Condition), `must be ">" or "<"`)
		}
		if a.For < 0 {
			bad(field+".for", a.For, "must not be negative")
		}
		if !slices.Contains([]string{"info", "warning", "critical"}, a.Severity) {
			bad(field+".severity", fmt.Sprintf("%q", a.Severity), "must be info, warning or critical")
		}
	}

	cl := c.Cluster
	if !slices.Contains(Drivers, cl.Driver) {
		errs = append(errs, fmt.Errorf("cluster.driver: unknown driver %q; valid drivers are %s", cl.Driver, strings.Join(Drivers, ", ")))
	}
	if cl.Driver == "exec" && len(cl.Exec.Command) == 0 {
		bad("cluster.exec.command", "[]", `must name the node binary and its arguments when cluster.driver is "exec"`)
	}
	if cl.Driver == "external" && len(cl.Targets) == 0 {
		bad("cluster.targets", "[]", `must list node URLs when cluster.driver is "external" (or pass --targets)`)
	}
	for _, u := range cl.Targets {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			bad("cluster.targets", fmt.Sprintf("%q", u), "must hold http:// or https:// URLs")
		}
	}
	if cl.StartTimeout < time.Second {
		bad("cluster.start_timeout", cl.StartTimeout, "must be at least 1s")
	}
	if c.AB.Binary != "" && cl.Driver == "external" {
		bad("ab.binary", fmt.Sprintf("%q", c.AB.Binary), "needs the local or exec driver: odbench cannot start nodes of an external cluster")
	}
	if c.AB.Binary == "" && (len(c.AB.BaselineArgs) > 0 || len(c.AB.CurrentArgs) > 0) {
		bad("ab.baseline_args and ab.current_args", fmt.Sprintf("%v and %v", c.AB.BaselineArgs, c.AB.CurrentArgs), "need ab.binary (run --ab OLD_BINARY)")
	}
	if cl.Local.Slots < 1 {
		bad("cluster.local.slots", cl.Local.Slots, "must be at least 1")
	}
	if cl.Local.TokenDelay < 0 {
		bad("cluster.local.token_delay", cl.Local.TokenDelay, "must not be negative")
	}
	return errors.Join(errs...)
}

// MinUTestP is the smallest p-value the two-sided Mann-Whitney U test can
// give for n against n samples: 2 / C(2n, n), when the two sides do not
// overlap at all (0.33 for 2, 0.10 for 3, 0.029 for 4, 0.0079 for 5).
func MinUTestP(n int) float64 {
	c := 1.0 // C(2n, n), built up as a product to stay exact in float64
	for i := 1; i <= n; i++ {
		c = c * float64(n+i) / float64(i)
	}
	return 2 / c
}

// MinUTestSamples is the fewest repetitions per side with which the U test
// can find a change significant at alpha.
func MinUTestSamples(alpha float64) int {
	n := 2
	for MinUTestP(n) >= alpha && n < 64 {
		n++
	}
	return n
}

// Policies are the inference scheduling policies of the reference node.
var Policies = []string{"round_robin", "least_connections", "random"}

// RegressionMetrics are the metrics compare judges.
var RegressionMetrics = []string{"throughput", "p50", "p95", "p99", "error_rate", "peak_rss"}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
