package cli

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/node"
	"github.com/spf13/cobra"
)

func newNodeCmd(a *app) *cobra.Command {
	cfg := node.DefaultConfig()
	var gcPercent int
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run one embedded reference node (the local driver starts these)",
		Long: `node runs one member of odbench's reference cluster: Raft (hashicorp/raft,
raft-wal log, file snapshots), memberlist gossip, content-addressed model blobs
and simulated inference, behind ollama-distributed's /api/v1 routes and
Ollama's /api routes. Every listener binds port 0 unless given; once serving
and aware of a Raft leader (so able to take a write), the node prints one JSON
line on stdout:

  {"event":"ready","id":"n1","api":"http://127.0.0.1:PORT","raft":"127.0.0.1:PORT","gossip":"127.0.0.1:PORT","pid":N}

Logs go to stderr. SIGTERM shuts the node down within 2 seconds.`,
		Example: `  # a new one-node cluster
  odbench node --id n1 --data-dir /tmp/n1 --bootstrap

  # a second node joining it through n1's API
  odbench node --id n2 --data-dir /tmp/n2 --join http://127.0.0.1:40123`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.Validate(); err != nil {
				return usageError(err)
			}
			cfg.Debug = a.log.Enabled(cmd.Context(), slog.LevelDebug)
			if _, set := os.LookupEnv("GOGC"); !set && gcPercent > 0 {
				debug.SetGCPercent(gcPercent)
			}
			if !cmd.Flags().Changed("pprof") {
				cfg.Pprof = !exposed(cfg.Bind)
			}
			if exposed(cfg.Bind) {
				fmt.Fprintf(cmd.ErrOrStderr(), "odbench: warning: --bind %s reaches beyond this machine, and the node has no authentication: its fault-admin routes (/api/v1/admin/faults) let anyone who reaches it cut or slow its traffic\n", cfg.Bind)
			}
			return node.Run(cmd.Context(), cfg, cmd.OutOrStdout(), a.log.With("node", cfg.ID))
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ID, "id", "", "node ID, unique in the cluster (required)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for Raft log, snapshots and blobs (required)")
	f.StringVar(&cfg.Bind, "bind", cfg.Bind, "IP address every listener binds to")
	f.BoolVar(&cfg.Bootstrap, "bootstrap", false, "start a new cluster with this node as its first voter")
	f.StringVar(&cfg.Join, "join", "", "API URL of any member to join through")
	f.IntVar(&cfg.APIPort, "api-port", 0, "API port (0: any free port)")
	f.IntVar(&cfg.RaftPort, "raft-port", 0, "Raft port (0: any free port)")
	f.IntVar(&cfg.GossipPort, "gossip-port", 0, "gossip port (0: any free port)")
	f.BoolVar(&cfg.Fsync, "fsync", cfg.Fsync, "fsync the Raft log on every write")
	f.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", cfg.HeartbeatTimeout, "Raft heartbeat timeout: a follower hearing nothing from its leader this long (up to twice) starts an election")
	f.DurationVar(&cfg.ElectionTimeout, "election-timeout", cfg.ElectionTimeout, "Raft election timeout (at least the heartbeat timeout)")
	f.DurationVar(&cfg.LeaderLease, "leader-lease", cfg.LeaderLease, "Raft leader lease: a leader out of touch with a quorum this long steps down (at most the heartbeat timeout)")
	f.DurationVar(&cfg.BodyTimeout, "body-timeout", cfg.BodyTimeout, "bound on a request body's arrival: one that stalls gets 408 and its connection is closed")
	f.DurationVar(&cfg.ForwardTimeout, "forward-timeout", cfg.ForwardTimeout, "bound on a request a follower forwards to the leader (then 504 naming it)")
	f.IntVar(&cfg.Slots, "slots", cfg.Slots, "parallel inference slots (like OLLAMA_NUM_PARALLEL)")
	f.DurationVar(&cfg.TokenDelay, "token-delay", cfg.TokenDelay, "simulated time per generated token")
	f.DurationVar(&cfg.PromptTokenDelay, "prompt-token-delay", cfg.PromptTokenDelay, "simulated time per prompt token")
	f.DurationVar(&cfg.ModelLoadPerGB, "model-load-per-gb", cfg.ModelLoadPerGB, "simulated load time of an uncached model per GB (plus 50ms)")
	f.IntVar(&cfg.ModelCache, "model-cache", cfg.ModelCache, "models kept loaded")
	f.IntVar(&cfg.PrefixCacheTokens, "prefix-cache-tokens", cfg.PrefixCacheTokens, "prompt tokens the simulated prefix cache holds, in blocks of 16 (0: no cache)")
	f.StringVar(&cfg.Policy, "policy", cfg.Policy, "inference scheduling: "+strings.Join(config.Policies(), ", "))
	f.IntVar(&cfg.ReplicationFactor, "replication-factor", cfg.ReplicationFactor, "replicas every model converges to")
	f.IntVar(&cfg.DefaultNumPredict, "num-predict", cfg.DefaultNumPredict, "tokens generated when a request sets no num_predict")
	f.Int64Var(&cfg.MaxModelMB, "max-model-mb", cfg.MaxModelMB, "the largest synthetic model POST /api/v1/models creates, in MB (10^6 bytes)")
	f.DurationVar(&cfg.ExtraLatency, "debug-extra-latency", 0, "add this delay to every API request (for testing regression detection)")
	f.StringVar(&cfg.HangPath, "debug-hang-path", "", "requests to this path never answer (for testing deadlock detection)")
	f.IntVar(&cfg.LeakBytesPerSec, "debug-leak-bytes-per-s", 0, "retain this many bytes of heap every second (for testing leak detection)")
	f.BoolVar(&cfg.StuckRoundRobin, "debug-stuck-round-robin", false, "round robin always picks the same node (for testing the fairness check)")
	f.BoolVar(&cfg.StaleReads, "debug-stale-reads", false, "followers answer linearizable reads from their own state (for testing the linearizability check)")
	f.BoolVar(&cfg.AckBeforeCommit, "debug-ack-before-commit", false, "the leader acknowledges puts before Raft commits them (for testing the linearizability and lost-write checks)")
	f.IntVar(&gcPercent, "gc-percent", node.DefaultGCPercent, "the Go runtime's GOGC for this node (0: the runtime's default; the GOGC variable, when set, wins)")
	f.BoolVar(&cfg.Pprof, "pprof", false, "serve net/http/pprof's GET routes under /debug/pprof/ (default: on when --bind is a loopback address)")
	f.IntVar(&cfg.ParentPID, "parent-pid", 0, "exit when this process is no longer the parent")
	return cmd
}
