package cluster

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors of this package.
var (
	// ErrStart: the cluster could not be started or reached. The CLI exits 3.
	ErrStart = errors.New("cluster could not be started or reached")
	// ErrNoNode: no node has that ID.
	ErrNoNode = errors.New("no such node")
)

// Node is one member of a running cluster.
type Node struct {
	ID string
	// API is the base URL of the node's HTTP API, without a trailing slash.
	API string
	// PID is the node's process ID, or 0 when odbench did not start it.
	PID int
}

// Cluster is a running cluster.
type Cluster interface {
	Nodes() []Node
	// Stop tears the cluster down. It is safe to call twice.
	Stop(ctx context.Context) error
}

// Driver starts clusters of a given size.
type Driver interface {
	Name() string
	// Start brings up n nodes and returns once they are ready.
	Start(ctx context.Context, n int) (Cluster, error)
}

// Describer is implemented by clusters that can say what they are
// (recorded in results as settings).
type Describer interface {
	Settings() map[string]string
}

// Killer can kill a node abruptly (SIGKILL).
type Killer interface {
	Kill(ctx context.Context, id string) error
}

// Restarter can restart a stopped or killed node with its identity and data.
type Restarter interface {
	Restart(ctx context.Context, id string) error
}

// Pauser can freeze and thaw a node (SIGSTOP, SIGCONT).
type Pauser interface {
	Pause(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
}

// Partitioner can cut a set of nodes off from the rest, and heal.
type Partitioner interface {
	Partition(ctx context.Context, minority []string) error
	Heal(ctx context.Context) error
}

// LinkFault degrades a link the way toxiproxy's toxics do: every write
// waits Delay ± Jitter (in order), is lost with probability LossPercent
// (a TCP write is then resent after a retransmission timeout, a UDP
// packet is gone), and the link carries at most BandwidthKBPerSec
// kilobytes per second (0: no cap).
type LinkFault struct {
	Delay             time.Duration
	Jitter            time.Duration
	LossPercent       float64
	BandwidthKBPerSec float64
}

// Shaper can degrade the links between nodes and slow a node's disk;
// Heal undoes both (and any partition).
type Shaper interface {
	// Shape degrades every link between the nodes ids and the other
	// nodes, both ways.
	Shape(ctx context.Context, ids []string, link LinkFault) error
	// SlowDisk adds delay to every write of node id's Raft log, as a slow
	// disk's fsync would.
	SlowDisk(ctx context.Context, id string, delay time.Duration) error
	Heal(ctx context.Context) error
}

// Watcher is implemented by clusters whose node processes odbench runs:
// it reports the nodes that exited without odbench asking them to.
type Watcher interface {
	// Deaths returns the nodes that died since the last call.
	Deaths() []Death
	// DeathNotice is signalled when a node dies.
	DeathNotice() <-chan struct{}
}

// Healther can tell whether a cluster is fit to measure: one leader that
// every member follows, and every member caught up with the leader's
// commit index. The runner asks before each scenario, so a scenario that
// left the cluster unhealthy is named, and the next ones start on a
// healthy cluster.
type Healther interface {
	// Healthy returns nil when the cluster is healthy, else what is not.
	Healthy(ctx context.Context) error
}

// Prober is implemented by clusters odbench did not start: it asks every
// node whether it still answers, and names those that do not.
type Prober interface {
	Probe(ctx context.Context) []error
}

// Ability names a fault ability a scenario may need.
type Ability string

// Abilities.
const (
	CanKill      Ability = "kill"
	CanRestart   Ability = "restart"
	CanPause     Ability = "pause"
	CanPartition Ability = "partition"
	CanShape     Ability = "shape links and disk"
)

// Has reports whether c implements ability a.
func Has(c Cluster, a Ability) bool {
	switch a {
	case CanKill:
		_, ok := c.(Killer)
		return ok
	case CanRestart:
		_, ok := c.(Restarter)
		return ok
	case CanPause:
		_, ok := c.(Pauser)
		return ok
	case CanPartition:
		_, ok := c.(Partitioner)
		return ok
	case CanShape:
		_, ok := c.(Shaper)
		return ok
	}
	return false
}

// Missing returns the abilities of needs that c lacks.
func Missing(c Cluster, needs []Ability) []Ability {
	var out []Ability
	for _, a := range needs {
		if !Has(c, a) {
			out = append(out, a)
		}
	}
	return out
}
