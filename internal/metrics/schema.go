package metrics

import (
	"time"
)

// SchemaVersion is the version of the results file this odbench writes and
// the newest it reads.
const SchemaVersion = 1

// Run is one results file: everything one `odbench run` measured.
type Run struct {
	SchemaVersion int    `json:"schema_version"`
	Tool          Tool   `json:"tool"`
	Host          Host   `json:"host"`
	Config        any    `json:"config"`
	Target        Target `json:"target"`
	// Baseline is the other side of an interleaved A/B run (run --ab): its
	// clusters have side "baseline", Target's have side "current".
	Baseline  *Target   `json:"baseline,omitempty"`
	Status    string    `json:"status"` // complete | interrupted
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	Clusters  []Cluster `json:"clusters"`
	// Seed is the run's random seed: every scenario's seed derives from it
	// (see ScenarioSeed), so `run --seed` replays the same arrivals and
	// operation picks.
	Seed     uint64   `json:"seed,omitempty"`
	Summary  Summary  `json:"summary"`
	Warnings []string `json:"warnings,omitempty"`
	// Shard says which part of a sharded plan this file is (run --shard);
	// a merged file keeps the count and the plan hash, index -1.
	Shard *ShardInfo `json:"shard,omitempty"`
}

// ShardInfo is one shard of a plan split over several load machines.
type ShardInfo struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// PlanHash identifies the plan: merge refuses shards of different ones.
	PlanHash string `json:"plan_hash"`
	// StartAt is the shared clock's start (shard.start_at), if any.
	StartAt time.Time `json:"start_at,omitzero"`
	// LateMs is how long after StartAt this shard began (shard.late_start:
	// allow): its first scenarios ran late on the shared clock.
	LateMs float64 `json:"late_ms,omitempty"`
}

// Run statuses.
const (
	RunComplete    = "complete"
	RunInterrupted = "interrupted"
)

// Tool names the odbench build that wrote the file.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Commit is the VCS revision the build was stamped with; Modified says
	// the checkout had uncommitted changes.
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
}

// Host describes the machine the load ran on.
type Host struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os"`
	Arch        string `json:"arch"`
	Kernel      string `json:"kernel,omitempty"`
	CPUModel    string `json:"cpu_model,omitempty"`
	Cores       int    `json:"cores"`
	MemoryBytes uint64 `json:"memory_bytes,omitempty"`
	GoVersion   string `json:"go_version"`
}

// Target describes what was benchmarked.
type Target struct {
	Driver      string `json:"driver"`
	Description string `json:"description"`
	// Version names the nodes' build (the node binary's version output, or
	// the first node's GET /api/v1/version); VersionReason says why it is
	// absent.
	Version       string `json:"version,omitempty"`
	VersionReason string `json:"version_reason,omitempty"`
}

// Cluster is every scenario run against one started cluster.
type Cluster struct {
	Size int `json:"size"`
	// Side is "baseline" or "current" in an interleaved A/B run, else empty.
	Side string `json:"side,omitempty"`
	// StartupMs is how long the driver took to bring the cluster to ready, in milliseconds.
	StartupMs int64 `json:"startup_ms,omitempty"`
	// Restarts counts the times the runner started this cluster again
	// because a node died.
	Restarts int `json:"restarts,omitempty"`
	// Unformed is why the cluster did not form (cluster.ready), when it was
	// measured anyway (--allow-unformed).
	Unformed string `json:"unformed,omitempty"`
	// Lost names nodes of an external cluster that stopped answering.
	Lost      []string          `json:"lost,omitempty"`
	Nodes     []NodeInfo        `json:"nodes,omitempty"`
	Error     string            `json:"error,omitempty"`
	Scenarios []Scenario        `json:"scenarios"`
	Settings  map[string]string `json:"settings,omitempty"`
}

// NodeInfo names one node of a cluster.
type NodeInfo struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	PID int    `json:"pid,omitempty"`
}

// Scenario statuses.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Scenario is one scenario's result at one cluster size and repetition.
type Scenario struct {
	Name       string            `json:"name"`
	Category   string            `json:"category"`
	Repetition int               `json:"repetition"`
	Status     string            `json:"status"`
	Error      string            `json:"error,omitempty"`
	Reason     string            `json:"reason,omitempty"` // why it was skipped
	Params     map[string]string `json:"params,omitempty"`
	// Seed drove this repetition's arrivals and operation picks.
	Seed      uint64    `json:"seed,omitempty"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	// WarmupNs and MeasuredNs are the warm-up (discarded) and measured durations, in nanoseconds.
	WarmupNs   int64 `json:"warmup_ns"`
	MeasuredNs int64 `json:"measured_ns"`
	// MeasureOffsetMs is the time from the scenario's start (the time base
	// of Events) to the start of its first measured window (the time base
	// of timelines), in milliseconds.
	MeasureOffsetMs int64       `json:"measure_offset_ms,omitempty"`
	Load            *Load       `json:"load,omitempty"`
	Operations      []Operation `json:"operations,omitempty"`
	Resources       *Resources  `json:"resources,omitempty"`
	Events          []Event     `json:"events,omitempty"`
	Checks          []Check     `json:"checks,omitempty"`
	// NodeDeaths are nodes that exited without odbench asking them to
	// during the scenario: it failed for them, and its errors from then on
	// are theirs, not the target's.
	NodeDeaths []NodeDeath `json:"node_deaths,omitempty"`
	Scalars    []Scalar    `json:"scalars,omitempty"`
	Warnings   []string    `json:"warnings,omitempty"`
	// RateLimit is what a rate-limiting target said (HTTP 429), or how the
	// load was paced below cluster.rate_limit.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// HostBound: the load machine's CPU was above the warning threshold
	// during the measurement, so the numbers may describe the machine.
	HostBound bool `json:"host_bound,omitempty"`
	// ShardSkewMs, in a merged sharded run, is how far apart the shards'
	// measured windows of this scenario started.
	ShardSkewMs *float64 `json:"shard_skew_ms,omitempty"`
	// Consistency is the linearizability check of the key-value history
	// recorded beside the scenario's load (fault scenarios, and consensus
	// ones with consensus.check_consistency).
	Consistency *Consistency `json:"consistency,omitempty"`
	// Sweep holds the points of a sweep or a capacity search.
	Sweep *Sweep `json:"sweep,omitempty"`
}

// Consistency is what the linearizability check of a recorded history found.
type Consistency struct {
	// Verdict is "linearizable", "violation", or "unknown" (the check ran
	// out of faults.check_timeout); only linearizable passes.
	Verdict string `json:"verdict"`
	// Operations were checked; Ambiguous of them were writes whose outcome
	// the client could not know (counted as possibly applied).
	Operations int `json:"operations"`
	Ambiguous  int `json:"ambiguous"`
	// NotRecorded counts operations left out of the history because they
	// certainly changed nothing: failed reads, refused writes.
	NotRecorded int     `json:"not_recorded"`
	Keys        int     `json:"keys"`
	Clients     int     `json:"clients"`
	CheckMs     float64 `json:"check_ms"`
	// Visualization is the path of porcupine's HTML view of a violation,
	// written beside the results file.
	Visualization string `json:"visualization,omitempty"`
}

// Load describes the load that was applied.
type Load struct {
	Mode    string `json:"mode"` // closed | open | step
	Workers int    `json:"workers,omitempty"`
	// RateOpsPerSec is the intended arrival rate in open-loop mode, in operations per second.
	RateOpsPerSec float64 `json:"rate_ops_per_sec,omitempty"`
	Arrival       string  `json:"arrival,omitempty"` // constant | poisson
	MaxInFlight   int     `json:"max_in_flight,omitempty"`
	// IntendedStarts counts the open-loop starts due inside the measured
	// window: each one either ran (and succeeded, failed or was left
	// unfinished) or was dropped, so IntendedStarts = counts + errors +
	// unfinished of the operations + DroppedStarts.
	IntendedStarts int64 `json:"intended_starts,omitempty"`
	// LateStarts counts open-loop operations that started more than 1 ms after their intended time.
	LateStarts int64 `json:"late_starts,omitempty"`
	// DroppedStarts counts intended starts inside the window that never started (in-flight bound reached).
	DroppedStarts int64  `json:"dropped_starts,omitempty"`
	Steps         []Step `json:"steps,omitempty"`
}

// Step is one rate step of a step ramp.
type Step struct {
	RateOpsPerSec     float64 `json:"rate_ops_per_sec"`
	AchievedOpsPerSec float64 `json:"achieved_ops_per_sec"`
	ErrorRate         float64 `json:"error_rate"` // fraction 0..1
	P99Ns             int64   `json:"p99_ns"`
	Held              bool    `json:"held"`
}

// Operation is one operation type's measurements within a scenario.
type Operation struct {
	Name string `json:"name"`
	// PhaseOf names the request operation this one is a phase or a
	// breakdown of ("ttft" and "e2e@n1" of "e2e"); empty for a request.
	// Error rates count requests only.
	PhaseOf string `json:"phase_of,omitempty"`
	// Count is the number of successful operations that started inside the
	// measured window (the histogram's population, including those that
	// finished during the drain after it).
	Count        int64            `json:"count"`
	Errors       int64            `json:"errors"`
	ErrorsByKind map[string]int64 `json:"errors_by_kind,omitempty"`
	// RateLimited counts HTTP 429 answers; they are errors, never throughput.
	RateLimited int64 `json:"rate_limited,omitempty"`
	// OutOfRange counts latencies outside the histogram's range (HistMinNs..HistMaxNs).
	OutOfRange int64 `json:"out_of_range,omitempty"`
	// Unfinished counts operations started inside the window that were
	// still running when the engine stopped waiting for them (the drain
	// after the window, api.request_timeout): not errors of the target.
	Unfinished int64 `json:"unfinished,omitempty"`
	// ThroughputOpsPerSec is the successful operations that completed
	// inside the measured window divided by the window's length (wrk's
	// definition), in operations per second.
	ThroughputOpsPerSec float64 `json:"throughput_ops_per_sec"`
	// WindowMs is the length of the window this operation's throughput is
	// over, when it is a part of the measured window (a fault scenario's
	// writes before, during and after the fault); 0: the whole window.
	WindowMs int64 `json:"window_ms,omitempty"`
	// Latency is measured from the intended start in open-loop mode (corrected).
	Latency LatencySummary `json:"latency"`
	// Histogram is base64 of hdrhistogram-go's V2 compressed encoding, values in nanoseconds.
	Histogram            string          `json:"histogram"`
	Uncorrected          *LatencySummary `json:"uncorrected,omitempty"`
	UncorrectedHistogram string          `json:"uncorrected_histogram,omitempty"`
	Timeline             []Interval      `json:"timeline,omitempty"`
}

// ErrorRate returns errors / (count + errors), or 0 with no operations.
func (o Operation) ErrorRate() float64 {
	total := o.Count + o.Errors
	if total == 0 {
		return 0
	}
	return float64(o.Errors) / float64(total)
}

// LatencySummary holds percentiles of one histogram, in nanoseconds.
type LatencySummary struct {
	MinNs    int64   `json:"min_ns"`
	MeanNs   float64 `json:"mean_ns"`
	StdDevNs float64 `json:"stddev_ns"`
	P50Ns    int64   `json:"p50_ns"`
	P90Ns    int64   `json:"p90_ns"`
	P95Ns    int64   `json:"p95_ns"`
	P99Ns    int64   `json:"p99_ns"`
	P999Ns   int64   `json:"p999_ns"`
	MaxNs    int64   `json:"max_ns"`
}

// Resources are the samples taken during the measured window.
type Resources struct {
	IntervalMs int64           `json:"interval_ms"`
	Host       *HostResources  `json:"host,omitempty"`
	Nodes      []NodeResources `json:"nodes,omitempty"`
	// Unavailable says why some resources could not be measured.
	Unavailable []string `json:"unavailable,omitempty"`
}

// HostResources summarize the whole load machine.
type HostResources struct {
	Samples         int     `json:"samples"`
	CPUPercentMean  float64 `json:"cpu_percent_mean"` // all cores, 0..100
	CPUPercentMax   float64 `json:"cpu_percent_max"`
	MemUsedBytesMax uint64  `json:"mem_used_bytes_max"`
	MemPercentMax   float64 `json:"mem_percent_max"`
	// StealPercentMean and StealPercentMax: the share of all cores' time the
	// hypervisor gave to other guests (a shared VM's noisy neighbours);
	// absent where the OS does not report it.
	StealPercentMean *float64 `json:"steal_percent_mean,omitempty"`
	StealPercentMax  *float64 `json:"steal_percent_max,omitempty"`
	// NetSentBytes and NetRecvBytes are totals over the window, all interfaces including loopback.
	NetSentBytes uint64 `json:"net_sent_bytes"`
	NetRecvBytes uint64 `json:"net_recv_bytes"`
}

// NodeResources summarize one node process.
type NodeResources struct {
	ID             string  `json:"id"`
	PID            int     `json:"pid"`
	Samples        int     `json:"samples"`
	CPUPercentMean float64 `json:"cpu_percent_mean"` // one core = 100
	CPUPercentMax  float64 `json:"cpu_percent_max"`
	RSSBytesMean   uint64  `json:"rss_bytes_mean"`
	RSSBytesMax    uint64  `json:"rss_bytes_max"`
	OpenFilesMax   int     `json:"open_files_max,omitempty"`
	ThreadsMax     int     `json:"threads_max,omitempty"`
}

// Event is something that happened during a scenario (a fault, a leader change).
type Event struct {
	// OffsetMs is milliseconds since the scenario started.
	OffsetMs int64  `json:"offset_ms"`
	Kind     string `json:"kind"`
	Node     string `json:"node,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// RateLimit describes a target's per-client rate limit as one scenario
// met it.
type RateLimit struct {
	// RetryAfter and Headers are from the first HTTP 429 answer: its
	// Retry-After and rate-limit headers (X-RateLimit-*, RateLimit-*).
	RetryAfter string            `json:"retry_after,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
	// AcceptedPerMin is the requests the target accepted per minute from
	// this load machine (one client address) while it limited it.
	AcceptedPerMin float64 `json:"accepted_per_min,omitempty"`
	// Capped is set when cluster.rate_limit paced the load below the limit:
	// the scenario's throughput is the limit's, not the target's.
	Capped string `json:"capped,omitempty"`
}

// NodeDeath is a node process that exited unasked during a scenario.
type NodeDeath struct {
	Node string `json:"node"`
	// OffsetMs is when, in milliseconds since the scenario started.
	OffsetMs int64 `json:"offset_ms"`
	// State is how it ended ("exit status 2", "signal: killed").
	State string `json:"state"`
	// Fatal is the first fatal-looking line of its log, if any.
	Fatal string `json:"fatal,omitempty"`
	// Log is the path of its log file.
	Log string `json:"log"`
}

// Check is one pass/fail assertion a scenario made about the target.
type Check struct {
	Name string `json:"name"`
	// Severity is SeverityFail (a failed check fails its scenario) or
	// SeverityWarn (advisory). Files written before checks had one read
	// as warn: their checks never changed a status.
	Severity string `json:"severity"`
	Passed   bool   `json:"passed"`
	Detail   string `json:"detail,omitempty"`
}

// Check severities.
const (
	// SeverityFail: correctness or safety; a failed check fails the
	// scenario and the run exits 1.
	SeverityFail = "fail"
	// SeverityWarn: advisory; printed and reported, status unchanged.
	SeverityWarn = "warn"
)

// Scalar is one named number a scenario measured, with its unit. A value
// that could not be measured has Value nil and a Reason.
type Scalar struct {
	Name   string   `json:"name"`
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	Reason string   `json:"reason,omitempty"`
}

// Summary counts scenario outcomes over the whole run.
type Summary struct {
	Scenarios int `json:"scenarios"`
	OK        int `json:"ok"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	// Checks counts every check made; ChecksFailed those of severity fail
	// that failed, ChecksWarned those of severity warn that failed.
	Checks       int `json:"checks,omitempty"`
	ChecksFailed int `json:"checks_failed,omitempty"`
	ChecksWarned int `json:"checks_warned,omitempty"`
}
