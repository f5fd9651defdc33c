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
	"github.com/odbench/odbench/internal/target"
)

// Start starts n reference nodes of clustertest.Binary through the
// odbench-node target profile, as odbench run does (fsync on, so the tests
// run the Raft log odbench run measures; nodeArgs come after), and stops
// them when the test ends, also on failure.
func Start(t testing.TB, n int, nodeArgs ...string) cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := target.Load("odbench-node")
	if err != nil {
		t.Fatal(err)
	}
	d, err := cluster.NewStarter(cluster.StartOptions{Profile: p, Self: clustertest.Binary, TempRoot: t.TempDir(),
		ExtraArgs: append([]string{"--fsync=true"}, nodeArgs...)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Start(ctx, n)
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
