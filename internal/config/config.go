package config

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// categories lists every scenario category odbench knows, in run order.
var categories = []string{
	"consensus", "p2p", "models", "api", "memory",
	"concurrency", "faults", "loadbalance", "inference", "custom",
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

// drivers lists the cluster drivers.
var drivers = []string{"local", "external"}

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
	Capacity    Capacity        `mapstructure:"capacity" json:"capacity"`
	Memory      Memory          `mapstructure:"memory" json:"memory"`
	Faults      Faults          `mapstructure:"faults" json:"faults"`
	Targets     Targets         `mapstructure:"targets" json:"targets"`
	Regression  Regression      `mapstructure:"regression" json:"regression"`
	Monitor     Monitor         `mapstructure:"monitor" json:"monitor"`
	Cluster     Cluster         `mapstructure:"cluster" json:"cluster"`
	AB          AB              `mapstructure:"ab" json:"ab"`
	Scenarios   Scenarios       `mapstructure:"scenarios" json:"scenarios"`
	Shard       Shard           `mapstructure:"shard" json:"shard"`
	Merge       Merge           `mapstructure:"merge" json:"merge"`
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
	// CheckConsistency runs the recorded workload of the fault scenarios
	// (faults.history_*) beside every consensus scenario too and checks
	// its history for linearizability. It adds load: off by default.
	CheckConsistency bool `mapstructure:"check_consistency" json:"check_consistency"`
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

// mixOps are the operation names the mixed workload knows.
var mixOps = []string{"kv_read", "kv_write", "api_read", "generate"}

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
	// API overrides the inference API of the target profile: "ollama"
	// (native NDJSON streams: /api/generate) or "openai" (OpenAI-compatible
	// server-sent events: /v1/chat/completions, as vLLM, llama.cpp,
	// SGLang, TGI and Ollama serve); empty: the profile's.
	API string `mapstructure:"api" json:"api"`
	// OpenAIRoute picks the OpenAI-compatible route: "chat"
	// (/v1/chat/completions) or "completions" (/v1/completions).
	OpenAIRoute string `mapstructure:"openai_route" json:"openai_route"`
	// APIKeyEnv names the environment variable holding the key sent as
	// "Authorization: Bearer"; the key itself is never written anywhere.
	APIKeyEnv  string `mapstructure:"api_key_env" json:"api_key_env,omitempty"`
	Model      string `mapstructure:"model" json:"model"`
	NumPredict int    `mapstructure:"num_predict" json:"num_predict"`
	Prompt     string `mapstructure:"prompt" json:"prompt"`
	// Rate is the Poisson arrival rate of open-loop inference scenarios, in requests per second.
	Rate float64 `mapstructure:"rate" json:"rate"`
	// SLOs for goodput: a request counts when TTFT and TPOT are within them.
	SLOTTFT time.Duration `mapstructure:"slo_ttft" json:"slo_ttft"`
	SLOTPOT time.Duration `mapstructure:"slo_tpot" json:"slo_tpot"`
	// Workload shapes the requests: fixed, synthetic lengths, a dataset,
	// shared prefixes or multi-turn conversations (workload.go).
	Workload Workload `mapstructure:"workload" json:"workload"`
}

// Memory configures the memory category.
type Memory struct {
	// LeakSlopeMBPerMin: a node's live heap growing faster than this is a possible leak.
	LeakSlopeMBPerMin float64 `mapstructure:"leak_slope_mb_per_min" json:"leak_slope_mb_per_min"`
	// MinDuration is the shortest soak: the soak measures the longer of it
	// and execution.duration, since a leak slope needs collections spread
	// over seconds (a 1 s quick measurement holds one or two).
	MinDuration time.Duration `mapstructure:"min_duration" json:"min_duration"`
}

// SoakDuration is how long the memory soak measures.
func (c *Config) SoakDuration() time.Duration { return max(c.Execution.Duration, c.Memory.MinDuration) }

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
	// RecoveryTime bounds how long a cluster may take writes no more after
	// losing its leader, and a partitioned minority to catch up after
	// healing (fault scenarios check it; 0: off).
	RecoveryTime time.Duration `mapstructure:"recovery_time" json:"recovery_time"`
}

// Cluster says what system is measured and how odbench reaches it.
type Cluster struct {
	// Target names the target profile: a built-in one (odbench-node,
	// etcd, ollama-distributed, ollama, openai, ...) or a profile file's
	// path. The profile says how to start, form, observe and drive the
	// system (configs/targets/).
	Target string `mapstructure:"target" json:"target"`
	// Driver is "local" (odbench starts clusters of the profile on this
	// machine, through its start section) or "external" (a running
	// cluster at Targets).
	Driver string `mapstructure:"driver" json:"driver"`
	// Targets are the node API URLs of an external cluster.
	Targets []string `mapstructure:"targets" json:"targets"`
	// StartTimeout bounds cluster start-up (until the profile's ready
	// conditions hold).
	StartTimeout time.Duration `mapstructure:"start_timeout" json:"start_timeout"`
	// SettleTimeout bounds how long a cluster may take, after a scenario,
	// to have a leader every member follows and every member caught up
	// with its commit index. Past it the scenario failed for leaving the
	// cluster unhealthy, and the cluster is started again for the next.
	SettleTimeout time.Duration `mapstructure:"settle_timeout" json:"settle_timeout"`
	// RateLimit is the target's per-client request limit ("100/min",
	// "5/s"), overriding the profile's; when set, closed loops become
	// open loops paced below it, open loops are capped to it, their
	// throughput marked as the limit's, and odbench's own polling is paced
	// below it too.
	RateLimit string `mapstructure:"rate_limit" json:"rate_limit,omitempty"`
	// AllowUnformed measures a cluster that did not meet the profile's
	// ready conditions anyway, marked as such, instead of skipping it
	// (exit 3).
	AllowUnformed bool  `mapstructure:"allow_unformed" json:"allow_unformed,omitempty"`
	Local         Local `mapstructure:"local" json:"local"`
}

// Local configures the reference node when the target is odbench-node:
// arguments added to every member's command line.
type Local struct {
	// Fsync makes Raft's log store sync every write (true is the honest default).
	Fsync bool `mapstructure:"fsync" json:"fsync"`
	// Slots is each node's parallel inference slots.
	Slots int `mapstructure:"slots" json:"slots"`
	// TokenDelay is the simulated time per generated token.
	TokenDelay time.Duration `mapstructure:"token_delay" json:"token_delay"`
	// HeartbeatTimeout, ElectionTimeout and LeaderLease are the nodes'
	// Raft timings (hashicorp/raft's defaults: 1s, 1s, 500ms). A follower
	// calls an election after hearing nothing for the heartbeat timeout (up
	// to twice it); a leader out of touch with a quorum for the lease steps
	// down. Tighter timings fail over faster and lose leaders to a busy host.
	HeartbeatTimeout time.Duration `mapstructure:"heartbeat_timeout" json:"heartbeat_timeout"`
	ElectionTimeout  time.Duration `mapstructure:"election_timeout" json:"election_timeout"`
	LeaderLease      time.Duration `mapstructure:"leader_lease" json:"leader_lease"`
	// ExtraArgs are appended to every `odbench node` command line.
	ExtraArgs []string `mapstructure:"extra_args" json:"extra_args"`
	// Binary is the member binary: for the reference node's profile, the
	// odbench to start `odbench node` from (empty: this one); for any other
	// profile, it replaces the first word of start.command (your build of
	// your node, where the profile names it by name).
	Binary string `mapstructure:"binary" json:"binary,omitempty"`
}

// Default returns the built-in configuration: short enough to try, honest
// enough to mean something.
func Default() Config {
	cats := map[string]bool{}
	for _, c := range categories {
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
		LoadBalance: LoadBalance{Policies: slices.Clone(defaultPolicies), ClientsPerSlot: 2},
		Inference: Inference{OpenAIRoute: "chat", Model: "odbench-bench", NumPredict: 16, Prompt: "Why is the sky blue? Answer in one sentence.",
			Rate: 20, SLOTTFT: 500 * time.Millisecond, SLOTPOT: 50 * time.Millisecond, Workload: defaultWorkload()},
		Capacity: defaultCapacity(),
		Memory:   Memory{LeakSlopeMBPerMin: 5, MinDuration: 10 * time.Second},
		Faults:   defaultFaults(),
		Shard:    Shard{Slack: 5 * time.Second, LateStart: "refuse"},
		Merge:    Merge{MaxSkew: 100 * time.Millisecond},
		Targets: Targets{
			ThroughputRPS:    map[string]float64{"1": 100, "3": 250, "5": 400},
			LatencyP50:       50 * time.Millisecond,
			LatencyP95:       200 * time.Millisecond,
			LatencyP99:       500 * time.Millisecond,
			CPUPercent:       80,
			MemoryPerNodeMB:  2048,
			ErrorRatePercent: 1,
			RecoveryTime:     5 * time.Second,
		},
		Regression: Regression{
			TolerancePercent: 10,
			Metrics:          map[string]float64{},
			Scenarios:        map[string]float64{},
			Alpha:            0.05,
			MinSamples:       4,
		},
		Monitor: Monitor{
			Address:       "127.0.0.1:8080",
			Interval:      time.Second,
			LatencyWindow: 10 * time.Second,
			Alerts: []AlertRule{
				{Name: "high_cpu", Metric: "cpu_percent", Condition: ">", Threshold: 80, For: 30 * time.Second, Severity: "warning"},
				{Name: "high_memory", Metric: "memory_percent", Condition: ">", Threshold: 85, For: 30 * time.Second, Severity: "warning"},
				{Name: "high_latency", Metric: "latency_p95_ms", Condition: ">", Threshold: 1000, For: 30 * time.Second, Severity: "critical"},
				{Name: "high_error_rate", Metric: "error_rate_percent", Condition: ">", Threshold: 5, For: 30 * time.Second, Severity: "critical"},
				{Name: "low_throughput", Metric: "requests_per_s", Condition: "<", Threshold: 10, For: time.Minute, Severity: "warning"},
			},
		},
		Cluster: Cluster{
			Target:        "odbench-node",
			Driver:        "local",
			StartTimeout:  30 * time.Second,
			SettleTimeout: 15 * time.Second,
			Local: Local{
				Fsync:            true,
				Slots:            4,
				TokenDelay:       5 * time.Millisecond,
				HeartbeatTimeout: time.Second,
				ElectionTimeout:  time.Second,
				LeaderLease:      500 * time.Millisecond,
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
	for _, name := range categories {
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

// ParseRate reads a request rate as "N/s", "N/min" or "N/h" (also
// "sec", "second", "minute", "hour"), in requests per second.
func ParseRate(s string) (float64, error) {
	n, unit, ok := strings.Cut(strings.ReplaceAll(s, " ", ""), "/")
	v, err := strconv.ParseFloat(n, 64)
	if !ok || err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a rate like 100/min or 5/s", s)
	}
	switch strings.ToLower(unit) {
	case "s", "sec", "second":
		return v, nil
	case "m", "min", "minute":
		return v / 60, nil
	case "h", "hour":
		return v / 3600, nil
	}
	return 0, fmt.Errorf("%q: the unit must be s, min or h", s)
}

// policies are the inference scheduling policies of the reference node:
// the one list the node and the loadbalance configuration both use.
var policies = []string{"round_robin", "least_connections", "random", "prefix_affinity"}

// defaultPolicies are the policies the loadbalance category compares by
// default; prefix_affinity has a scenario of its own, on a workload whose
// prompts share prefixes.
var defaultPolicies = []string{"round_robin", "least_connections", "random"}

// Categories lists every scenario category odbench knows, in run order.
func Categories() []string { return slices.Clone(categories) }

// Drivers lists the cluster drivers.
func Drivers() []string { return slices.Clone(drivers) }

// MixOps lists the operations the mixed workload knows.
func MixOps() []string { return slices.Clone(mixOps) }

// Policies lists the reference node's inference scheduling policies.
func Policies() []string { return slices.Clone(policies) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
