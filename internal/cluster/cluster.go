package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors of this package.
var (
	// ErrStart: the cluster could not be started or reached. The CLI exits 3.
	ErrStart = errors.New("cluster could not be started or reached")
	// ErrNoNode: no node has that ID.
	ErrNoNode = errors.New("no such node")
	// ErrNotFormed: the nodes answer, but what they say does not meet the
	// target profile's ready conditions (no leader, too few members).
	// Errors wrapping it wrap ErrStart too; the driver returns the running
	// cluster beside it, so a caller may still measure it
	// (--allow-unformed) or must stop it.
	ErrNotFormed = errors.New("the cluster did not form")
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

// Shaper can degrade the links between nodes; Heal undoes it (and any
// partition).
type Shaper interface {
	// Shape degrades every link between the nodes ids and the other
	// nodes, both ways.
	Shape(ctx context.Context, ids []string, link LinkFault) error
	Heal(ctx context.Context) error
}

// DiskSlower can slow a node's log writes, as a slow disk's fsync would;
// Heal undoes it.
type DiskSlower interface {
	// SlowDisk adds delay to every write of node id's log.
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
	CanShape     Ability = "shape links"
	CanSlowDisk  Ability = "slow the disk"
)

// AbilityReporter is implemented by clusters whose abilities depend on
// more than their type (a target profile, root): Lacks says why the
// cluster lacks an ability, or "" when it has it.
type AbilityReporter interface {
	Lacks(a Ability) string
}

// Lacks returns why c lacks ability a, or "" when it has it.
func Lacks(c Cluster, a Ability) string {
	if r, ok := c.(AbilityReporter); ok {
		return r.Lacks(a)
	}
	var ok bool
	switch a {
	case CanKill:
		_, ok = c.(Killer)
	case CanRestart:
		_, ok = c.(Restarter)
	case CanPause:
		_, ok = c.(Pauser)
	case CanPartition:
		_, ok = c.(Partitioner)
	case CanShape:
		_, ok = c.(Shaper)
	case CanSlowDisk:
		_, ok = c.(DiskSlower)
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("this cluster cannot %s its nodes", a)
}

// Has reports whether c has ability a.
func Has(c Cluster, a Ability) bool { return Lacks(c, a) == "" }

// Missing returns why c lacks each of needs it lacks (none: it has all).
func Missing(c Cluster, needs []Ability) []string {
	var out []string
	for _, a := range needs {
		if why := Lacks(c, a); why != "" {
			out = append(out, why)
		}
	}
	return out
}
