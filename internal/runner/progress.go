package runner

import (
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/metrics"
)

// Progress receives what the runner is doing, in order. The CLI implements
// it with live bars on a terminal and log lines elsewhere.
type Progress interface {
	// Planned announces the number of scenario runs and the planned time of each.
	Planned(total int, each time.Duration)
	ClusterStarting(size int)
	ClusterReady(size int, took time.Duration, nodes []cluster.Node)
	ClusterFailed(size int, err error)
	// ScenarioStarted: the i-th scenario run of the plan (1-based) begins.
	ScenarioStarted(i, size int, name string, rep int)
	ScenarioDone(i, size int, res metrics.Scenario)
}

type nopProgress struct{}

func (nopProgress) Planned(int, time.Duration)                      {}
func (nopProgress) ClusterStarting(int)                             {}
func (nopProgress) ClusterReady(int, time.Duration, []cluster.Node) {}
func (nopProgress) ClusterFailed(int, error)                        {}
func (nopProgress) ScenarioStarted(int, int, string, int)           {}
func (nopProgress) ScenarioDone(int, int, metrics.Scenario)         {}
