// Going on after a scenario: a cluster that lost a node, or that a
// scenario left unhealthy, is started again before the next scenario.

package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/metrics"
)

// deathsWhy says which nodes died.
func deathsWhy(deaths []metrics.NodeDeath) string {
	var names []string
	for _, d := range deaths {
		names = append(names, fmt.Sprintf("%s (%s)", d.Node, d.State))
	}
	return "node " + strings.Join(names, ", node ") + " died"
}

// restart stops a cluster that cannot go on (a node died, or it did not
// settle after a scenario) and starts it again with fresh data, as the
// plan's driver starts any cluster; why says what happened. With
// execution.fail_fast it does not: the run ends.
func (r *Runner) restart(ctx context.Context, plan clusterPlan, label string, c cluster.Cluster, stop func(cluster.Cluster),
	why string) (cluster.Cluster, error) {
	stop(c)
	if r.opt.Config.Execution.FailFast {
		return nil, fmt.Errorf("%s; --fail-fast: not restarting the cluster", why)
	}
	r.opt.Progress.ClusterStarting(label + " again, with fresh data: " + why)
	startCtx, cancel := context.WithTimeout(ctx, r.opt.Config.Cluster.StartTimeout)
	defer cancel()
	began := time.Now()
	next, err := plan.driver.Start(startCtx, plan.where.Size)
	if err != nil {
		r.opt.Progress.ClusterFailed(label, err)
		return nil, fmt.Errorf("%s and the cluster could not be started again: %w", why, err)
	}
	r.opt.Progress.ClusterReady(label, time.Since(began), next.Nodes())
	return next, nil
}

// settle waits, at most cluster.settle_timeout, until a cluster that can
// tell (cluster.Healther) is healthy: a leader every member follows, every
// member caught up. It returns what was last wrong.
func (r *Runner) settle(ctx context.Context, c cluster.Cluster) error {
	h, ok := c.(cluster.Healther)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.opt.Config.Cluster.SettleTimeout)
	defer cancel()
	for {
		err := h.Healthy(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(50 * time.Millisecond):
		}
	}
}
