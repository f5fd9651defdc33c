package cluster

import (
	"context"
	"errors"
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

// Ability names a fault ability a scenario may need.
type Ability string

// Abilities.
const (
	CanKill      Ability = "kill"
	CanRestart   Ability = "restart"
	CanPause     Ability = "pause"
	CanPartition Ability = "partition"
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
