// The live dashboard's configuration: its address and interval, alert
// rules and what they do when they fire.

package config

import (
	"slices"
	"time"
)

// Monitor configures the live dashboard.
type Monitor struct {
	Address  string        `mapstructure:"address" json:"address"`
	Interval time.Duration `mapstructure:"interval" json:"interval"`
	// LatencyWindow is the span latency_avg_ms and latency_p95_ms cover:
	// the health probes of the last this long. A target that recovers
	// reads as recovered within it.
	LatencyWindow time.Duration `mapstructure:"latency_window" json:"latency_window"`
	Alerts        []AlertRule   `mapstructure:"alerts" json:"alerts"`
}

// AlertRule fires when Metric compares to Threshold by Condition for at least For.
type AlertRule struct {
	Name      string        `mapstructure:"name" json:"name"`
	Metric    string        `mapstructure:"metric" json:"metric"`
	Condition string        `mapstructure:"condition" json:"condition"` // ">" or "<"
	Threshold float64       `mapstructure:"threshold" json:"threshold"`
	For       time.Duration `mapstructure:"for" json:"for"`
	Severity  string        `mapstructure:"severity" json:"severity"` // info, warning, critical
	// Actions run when the alert fires and when it resolves.
	Actions []AlertAction `mapstructure:"actions" json:"actions,omitempty"`
}

// AlertAction is what the monitor does with an alert that fires or
// resolves: POST it to Webhook in Alertmanager's webhook format, and/or
// run Command (argv, no shell) with the same JSON on its standard input.
// Each attempt is bounded by Timeout; failures are retried with backoff.
type AlertAction struct {
	Webhook string        `mapstructure:"webhook" json:"webhook,omitempty"`
	Command []string      `mapstructure:"command" json:"command,omitempty"`
	Timeout time.Duration `mapstructure:"timeout" json:"timeout,omitempty"`
}

// alertMetrics are the metric names alert rules may watch.
var alertMetrics = []string{
	"cpu_percent", "memory_percent", "memory_mb", "goroutines", "net_mb_per_s",
	"requests_per_s", "ops_per_s", "latency_avg_ms", "latency_p95_ms", "error_rate_percent",
	"steal_percent",
}

// AlertMetrics lists the metric names alert rules may watch.
func AlertMetrics() []string { return slices.Clone(alertMetrics) }
