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
	// ClusterStarting, ClusterReady and ClusterFailed name the cluster by a
	// label: "cluster of 3", or "cluster of 3 (baseline)" in an A/B run.
	ClusterStarting(label string)
	ClusterReady(label string, took time.Duration, nodes []cluster.Node)
	ClusterFailed(label string, err error)
	// ScenarioStarted: the i-th scenario run of the plan (1-based) begins.
	ScenarioStarted(i int, where Where, name string, rep int)
	ScenarioDone(i int, where Where, res metrics.Scenario)
	// Note says something worth knowing before it shows (scenarios that
	// will be skipped, and why).
	Note(msg string)
}

type nopProgress struct{}

func (nopProgress) Planned(int, time.Duration)                         {}
func (nopProgress) ClusterStarting(string)                             {}
func (nopProgress) ClusterReady(string, time.Duration, []cluster.Node) {}
func (nopProgress) ClusterFailed(string, error)                        {}
func (nopProgress) ScenarioStarted(int, Where, string, int)            {}
func (nopProgress) ScenarioDone(int, Where, metrics.Scenario)          {}
func (nopProgress) Note(string)                                        {}
