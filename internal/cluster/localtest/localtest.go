// Package localtest starts local clusters of reference nodes for the tests
// of packages above cluster (scenarios, runner, monitor). It imports
// cluster, so cluster's own tests use clustertest alone.
package localtest

import (
	"context"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/clustertest"
)

// Start starts n reference nodes of clustertest.Binary (fsync off: tests
// check behaviour, not speed; nodeArgs come after) and stops them when the
// test ends, also on failure.
func Start(t testing.TB, n int, nodeArgs ...string) cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := cluster.NewLocal(cluster.LocalOptions{Binary: clustertest.Binary, TempRoot: t.TempDir(),
		NodeArgs: append([]string{"--fsync=false"}, nodeArgs...)}).Start(ctx, n)
	if err != nil {
		t.Fatalf("starting %d nodes: %v", n, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return c
}
