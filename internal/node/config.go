// The node's configuration, its defaults and their validation.

package node

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/config"
)

// Config configures one node. The CLI fills it from flags.
type Config struct {
	ID        string
	DataDir   string
	Bind      string // IP to bind every listener to
	Bootstrap bool   // start a new cluster with this node as its only voter
	Join      string // API URL of any member to join through
	// Ports; 0 picks a free one (a restart passes the previous ones).
	APIPort, RaftPort, GossipPort int

	Fsync            bool
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	LeaderLease      time.Duration
	// BodyTimeout bounds how long a request body may take to arrive.
	BodyTimeout time.Duration
	// ForwardTimeout bounds a request a follower forwards to the leader;
	// past it the follower answers 504 naming the leader.
	ForwardTimeout   time.Duration
	SnapshotInterval time.Duration
	SnapshotEntries  uint64

	Slots             int
	TokenDelay        time.Duration // per generated token
	PromptTokenDelay  time.Duration // per prompt token
	ModelLoadPerGB    time.Duration // load time of an uncached model, per GB (plus a fixed 50 ms)
	ModelCache        int           // models kept "loaded"
	PrefixCacheTokens int           // prompt tokens the simulated prefix cache holds (0: none)
	Policy            string        // round_robin | least_connections | random
	ReplicationFactor int
	DefaultNumPredict int
	// MaxModelMB bounds a synthetic model's size, in MB (10^6 bytes).
	MaxModelMB int64

	// Debug knobs for odbench's own tests: each breaks the node in one
	// known way, so a check can be shown to fail.
	ExtraLatency    time.Duration // added to every API request
	HangPath        string        // requests to this path never answer (until shutdown)
	LeakBytesPerSec int           // heap retained forever, per second
	StuckRoundRobin bool          // round robin always picks the first candidate
	// StaleReads: a follower answers linearizable reads from its own
	// state, without asking the leader (breaks linearizability).
	StaleReads bool
	// AckBeforeCommit: the leader acknowledges a put at once and hands it
	// to Raft ackBeforeCommitDelay later (loses acknowledged writes when
	// the leader dies in between, and breaks linearizability).
	AckBeforeCommit bool

	// Pprof serves net/http/pprof's GET routes under /debug/pprof/ (a
	// memory soak makes a Go target collect through /debug/pprof/heap?gc=1).
	// The CLI turns it on by default only on a loopback bind: a CPU profile
	// costs the node 30 s of work for whoever asks.
	Pprof bool

	// ParentPID: exit when the parent process changes (odbench died).
	ParentPID int
	// Debug turns on Raft's and memberlist's own logs.
	Debug bool
}

// DefaultGCPercent is the node's GOGC (odbench node --gc-percent): its
// live heap is small and every write allocates (HTTP, bolt, msgpack), so
// at the runtime's default of 100 it collects several times a second
// under load. 400 against 100, 3-node clusters side by side, 256 writers
// on 2 cores, five interleaved rounds: medians of 12%, 13% and 23% more
// writes in three runs, each for less CPU per write; the idle node stays
// under its RSS target (make bench-cluster).
const DefaultGCPercent = 400

// Raft's timings default to hashicorp/raft's own, which config.Default
// holds for both the node and the local driver: a follower that hears
// nothing from its leader for the heartbeat timeout (1 s, randomised up to
// twice that) starts an election; a leader that cannot reach a quorum for
// the lease (500 ms) steps down. On a host whose CPU is taken by other
// work, a process can wait hundreds of milliseconds for a core, so timings
// near that (the 300/300/150 ms this node used before) lose leaders to
// scheduling, not to failures. etcd keeps its election timeout at ten
// heartbeats (100 ms against 1 s) for the same reason. A failover then
// takes 1-2 s plus the election; benchmarks that measure failover at other
// timings pass them explicitly (--heartbeat-timeout, --election-timeout,
// --leader-lease; cluster.local in the config).

var raftTimings = config.Default().Cluster.Local

// DefaultMaxModelMB is the largest synthetic model a node creates unless
// told otherwise (--max-model-mb): room for the full profile's 1000 MB,
// not for one request to fill a disk.
const DefaultMaxModelMB = 2000

func (c Config) maxModelBytes() int64 { return c.MaxModelMB * 1e6 }

// DefaultConfig returns defaults suited to loopback clusters.
func DefaultConfig() Config {
	return Config{
		Bind: "127.0.0.1", Fsync: true,
		HeartbeatTimeout: raftTimings.HeartbeatTimeout, ElectionTimeout: raftTimings.ElectionTimeout,
		LeaderLease: raftTimings.LeaderLease, BodyTimeout: DefaultBodyTimeout, ForwardTimeout: 10 * time.Second, SnapshotInterval: 30 * time.Second, SnapshotEntries: 16384,
		Slots: 4, TokenDelay: 5 * time.Millisecond, PromptTokenDelay: 200 * time.Microsecond,
		ModelLoadPerGB: 500 * time.Millisecond, ModelCache: 2, PrefixCacheTokens: 8192, Policy: "round_robin",
		ReplicationFactor: 1, DefaultNumPredict: 16, MaxModelMB: DefaultMaxModelMB,
	}
}

// Validate checks the configuration, reporting every problem.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("--id: must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: must not be empty"))
	}
	if c.Bootstrap && c.Join != "" {
		errs = append(errs, errors.New("--bootstrap and --join: give one, not both"))
	}
	if c.Slots < 1 {
		errs = append(errs, fmt.Errorf("--slots: must be at least 1, but is %d", c.Slots))
	}
	if c.ModelCache < 1 {
		errs = append(errs, fmt.Errorf("--model-cache: must be at least 1, but is %d", c.ModelCache))
	}
	if c.PrefixCacheTokens < 0 {
		errs = append(errs, fmt.Errorf("--prefix-cache-tokens: must not be negative, but is %d", c.PrefixCacheTokens))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("--replication-factor: must be at least 1, but is %d", c.ReplicationFactor))
	}
	if !slices.Contains(config.Policies(), c.Policy) {
		errs = append(errs, fmt.Errorf("--policy: must be one of %s, but is %q", strings.Join(config.Policies(), ", "), c.Policy))
	}
	if c.ForwardTimeout <= 0 || c.ForwardTimeout > requestTimeout {
		errs = append(errs, fmt.Errorf("--forward-timeout: must be above 0 and at most %v (the node's own request bound), but is %v", requestTimeout, c.ForwardTimeout))
	}
	if c.BodyTimeout <= 0 || c.BodyTimeout > requestTimeout {
		errs = append(errs, fmt.Errorf("--body-timeout: must be above 0 and at most %v, but is %v", requestTimeout, c.BodyTimeout))
	}
	if c.MaxModelMB < 1 {
		errs = append(errs, fmt.Errorf("--max-model-mb: must be at least 1, but is %d", c.MaxModelMB))
	}
	if c.LeakBytesPerSec < 0 {
		errs = append(errs, fmt.Errorf("--debug-leak-bytes-per-s: must not be negative, but is %d", c.LeakBytesPerSec))
	}
	if c.HeartbeatTimeout < 5*time.Millisecond || c.ElectionTimeout < 5*time.Millisecond || c.LeaderLease < 5*time.Millisecond {
		errs = append(errs, errors.New("--heartbeat-timeout, --election-timeout and --leader-lease: must be at least 5ms"))
	}
	if c.LeaderLease > c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("--leader-lease: must be at most --heartbeat-timeout (%v), but is %v", c.HeartbeatTimeout, c.LeaderLease))
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		errs = append(errs, fmt.Errorf("--election-timeout: must be at least --heartbeat-timeout (%v), but is %v", c.HeartbeatTimeout, c.ElectionTimeout))
	}
	return errors.Join(errs...)
}
