package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// dyingNode starts clusters of odbench's node through its built-in
// profile, each member behind a wrapper that, the first time it runs
// member n2, prints a panic line and kills it after the given delay.
func dyingNode(t *testing.T, delay string) cluster.Driver {
	t.Helper()
	dir := t.TempDir()
	wrapper := filepath.Join(dir, "node.sh")
	script := `#!/bin/sh
id=$1; marker=$2; delay=$3; shift 3
if [ "$id" = n2 ] && mkdir "$marker" 2>/dev/null; then
  "$@" &
  sleep "$delay"
  echo "panic: deliberate crash for the test" >&2
  kill -9 $!
  exit 2
fi
exec "$@"
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := target.Load("odbench-node")
	if err != nil {
		t.Fatal(err)
	}
	p.Start.Command = append([]string{wrapper, "{{.ID}}", filepath.Join(dir, "died-once"), delay}, p.Start.Command...)
	d, err := cluster.NewStarter(cluster.StartOptions{Profile: p, Self: clustertest.Binary,
		ExtraArgs: []string{"--fsync=false"}, TempRoot: t.TempDir(), LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestNodeDeathFailsItsScenario: a node that dies mid-scenario fails
// exactly that scenario, which names the node, how it ended and its
// fatal log line; the runner starts the cluster again and the next
// scenario passes on it.
func TestNodeDeathFailsItsScenario(t *testing.T) {
	d, cfg := deathPlan(t)
	opt := Options{Config: &cfg, Driver: d, ResultsDir: t.TempDir(), Tool: metrics.Tool{Name: "odbench", Version: "test"}}
	run, err := runIt(t, context.Background(), opt)
	if !errors.Is(err, ErrScenariosFailed) || errors.Is(err, cluster.ErrStart) {
		t.Fatalf("err = %v, want the scenario failed (exit 1), not a start failure", err)
	}
	cl := run.Clusters[0]
	if len(cl.Scenarios) != 2 || cl.Restarts != 1 {
		t.Fatalf("scenarios %+v, restarts %d: want two scenarios and one restart", cl.Scenarios, cl.Restarts)
	}
	died, next := cl.Scenarios[0], cl.Scenarios[1]
	if died.Status != metrics.StatusFailed || len(died.NodeDeaths) != 1 ||
		!strings.Contains(died.Error, "node n2 exited (exit status 2): panic: deliberate crash for the test; log: ") ||
		!strings.Contains(died.Error, "during api/health_check/clients=1") {
		t.Errorf("first scenario %s %q (deaths %+v): want failed naming n2, its exit and its panic line", died.Status, died.Error, died.NodeDeaths)
	}
	if next.Status != metrics.StatusOK {
		t.Errorf("the scenario after the restart: %s %s", next.Status, next.Error)
	}
}

// TestExternalNodeStopsAnswering: a node of an external cluster that stops
// answering is named, and the scenarios after it are skipped with that
// reason; the run exits as for an unreachable target.
func TestExternalNodeStopsAnswering(t *testing.T) {
	srv := fakeTarget(t, 200)
	time.AfterFunc(300*time.Millisecond, srv.Close)
	run, err := runIt(t, context.Background(), options(t, []string{srv.URL}, "api/cluster_status/clients=2", "api/health_check/clients=2"))
	if !errors.Is(err, cluster.ErrStart) {
		t.Fatalf("err = %v, want it to say the target could not be reached", err)
	}
	cl := run.Clusters[0]
	last := cl.Scenarios[len(cl.Scenarios)-1]
	if last.Status != metrics.StatusSkipped || !strings.Contains(last.Reason, "node-1 ("+srv.URL+") stopped answering GET /api/v1/health") {
		t.Errorf("last scenario %s %q: want skipped naming the node that stopped answering", last.Status, last.Reason)
	}
	if len(cl.Lost) != 1 {
		t.Errorf("lost nodes %q", cl.Lost)
	}
}

// deathPlan is two scenarios on a started cluster of 2 whose node n2 dies
// 2.5 s into the first.
func deathPlan(t *testing.T) (cluster.Driver, config.Config) {
	t.Helper()
	d := dyingNode(t, "2.5")
	cfg := config.Default()
	cfg.OnlyCategories([]string{"api"})
	cfg.Execution.Duration, cfg.Execution.WarmupDuration = 3*time.Second, 0
	cfg.Execution.Scenarios = []string{"api/health_check/clients=1", "api/cluster_status/clients=1"}
	cfg.System.ClusterSizes, cfg.System.ConcurrencyLevels = []int{2}, []int{1}
	cfg.Cluster.Driver = "local"
	return d, cfg
}

// startsOnce is a driver whose clusters cannot be started a second time.
type startsOnce struct {
	cluster.Driver
	starts int
}

func (d *startsOnce) Start(ctx context.Context, n int) (cluster.Cluster, error) {
	d.starts++
	if d.starts > 1 {
		return nil, fmt.Errorf("%w: deliberately not started again", cluster.ErrStart)
	}
	return d.Driver.Start(ctx, n)
}

// TestClusterThatCannotRestartEndsTheSize: after a node died, a cluster
// that cannot be started again ends its size, the rest skipped with the
// reason, and the run exits as for an unreachable target.
func TestClusterThatCannotRestartEndsTheSize(t *testing.T) {
	d, cfg := deathPlan(t)
	opt := Options{Config: &cfg, Driver: &startsOnce{Driver: d}, ResultsDir: t.TempDir(), Tool: metrics.Tool{Name: "odbench", Version: "test"}}
	run, err := runIt(t, context.Background(), opt)
	if !errors.Is(err, cluster.ErrStart) {
		t.Fatalf("err = %v, want it to wrap ErrStart (exit 3)", err)
	}
	next := run.Clusters[0].Scenarios[1]
	if next.Status != metrics.StatusSkipped || !strings.Contains(next.Reason, "could not be started again") {
		t.Errorf("the scenario after the death: %s %q, want skipped saying the cluster could not be started again", next.Status, next.Reason)
	}
}

// sickDriver starts external clusters of urls; the first one it starts
// never settles (a node stays behind), the ones after do.
type sickDriver struct {
	*cluster.External
	started atomic.Int64
}

type sickCluster struct {
	cluster.Cluster
	sick bool
}

func (c sickCluster) Healthy(context.Context) error {
	if c.sick {
		return errors.New("node n2 has applied index 7, behind the leader's commit index 9")
	}
	return nil
}

func (d *sickDriver) Start(ctx context.Context, n int) (cluster.Cluster, error) {
	c, err := d.External.Start(ctx, n)
	if err != nil {
		return c, err
	}
	return sickCluster{Cluster: c, sick: d.started.Add(1) == 1}, nil
}

// A scenario that leaves the cluster unhealthy fails for it, with what was
// wrong; the cluster is started again, and the next scenario runs on a
// healthy one and passes.
func TestUnsettledClusterFailsTheScenarioThatLeftIt(t *testing.T) {
	srv := fakeTarget(t, 200)
	opt := options(t, []string{srv.URL}, "api/health_check/clients=2", "api/cluster_status/clients=2")
	opt.Config.Cluster.SettleTimeout = 200 * time.Millisecond
	d := &sickDriver{External: cluster.NewExternal([]string{srv.URL}, nil, opt.Config.Cluster.StartTimeout)}
	opt.Driver = d
	run, err := runIt(t, context.Background(), opt)
	if !errors.Is(err, ErrScenariosFailed) {
		t.Fatalf("run error %v, want scenarios failed", err)
	}
	cl := run.Clusters[0]
	if len(cl.Scenarios) != 2 || cl.Restarts != 1 {
		t.Fatalf("%d scenarios, %d restarts: want 2 and 1", len(cl.Scenarios), cl.Restarts)
	}
	first, second := cl.Scenarios[0], cl.Scenarios[1]
	if first.Status != metrics.StatusFailed || !strings.Contains(first.Error, "left the cluster unhealthy: node n2 has applied index 7") {
		t.Errorf("first: %s %q, want failed for leaving the cluster unhealthy", first.Status, first.Error)
	}
	if second.Status != metrics.StatusOK {
		t.Errorf("second: %s %q, want ok on the fresh cluster", second.Status, second.Error)
	}
}
