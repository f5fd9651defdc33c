package config

import (
	"fmt"
	"time"
)

// Shard splits one plan over several load machines that drive one
// external cluster together (odbench run --shard INDEX/COUNT): each runs
// 1/COUNT of every open-loop rate and of every closed-loop client count,
// and odbench merge adds the shards' results into one exact run.
type Shard struct {
	// Index is this machine's shard, 0..Count-1 (a Kubernetes Indexed
	// Job's JOB_COMPLETION_INDEX).
	Index int `mapstructure:"index" json:"index"`
	// Count is the number of shards; 0 or 1: not sharded.
	Count int `mapstructure:"count" json:"count"`
	// StartAt, an RFC 3339 instant, is the barrier every shard starts the
	// plan at; each scenario then starts at the same wall-clock instant on
	// every shard (see Slot). Empty: start at once.
	StartAt string `mapstructure:"start_at" json:"start_at,omitempty"`
	// Slack is added to each scenario's slot on the shared clock, for its
	// set-up, drain and cleanup.
	Slack time.Duration `mapstructure:"slack" json:"slack"`
	// LateStart is what a shard does when StartAt has already passed (a
	// slow image pull): "refuse" (exit 2, saying how late) or "allow"
	// (start at once, the lateness recorded and reported by merge).
	LateStart string `mapstructure:"late_start" json:"late_start"`
}

// Merge configures odbench merge.
type Merge struct {
	// MaxSkew: shards whose measured windows of one scenario started
	// further apart than this are warned about (their clocks, or their
	// schedules, disagreed).
	MaxSkew time.Duration `mapstructure:"max_skew" json:"max_skew"`
}

// Sharded reports whether the plan is split over several machines.
func (s Shard) Sharded() bool { return s.Count > 1 }

// Workers is this shard's part of n closed-loop clients: n/Count, the
// remainder spread over the first shards, so the parts add up to n.
func (s Shard) Workers(n int) int {
	if !s.Sharded() {
		return n
	}
	part := n / s.Count
	if s.Index < n%s.Count {
		part++
	}
	return part
}

// Rate is this shard's part of an open-loop rate.
func (s Shard) Rate(r float64) float64 {
	if !s.Sharded() {
		return r
	}
	return r / float64(s.Count)
}

// Late says how far StartAt lies before now (0 when it is ahead, or unset).
func (s Shard) Late(now time.Time) time.Duration {
	start, err := s.Start()
	if err != nil || start.IsZero() || !start.Before(now) {
		return 0
	}
	return now.Sub(start)
}

// Start parses StartAt (the zero time when empty).
func (s Shard) Start() (time.Time, error) {
	if s.StartAt == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, s.StartAt)
}

func (s Shard) validate(p *problems, driver string) {
	switch {
	case s.Count < 0:
		p.bad("shard.count", s.Count, "must not be negative")
	case s.Sharded() && (s.Index < 0 || s.Index >= s.Count):
		p.bad("shard.index", s.Index, fmt.Sprintf("must be from 0 to %d (shard.count - 1)", s.Count-1))
	case s.Sharded() && driver != "external":
		p.bad("shard.count", s.Count, "shards drive one running cluster together: it needs the external driver (--targets), not "+driver+", which starts a cluster per machine")
	}
	if _, err := s.Start(); err != nil {
		p.bad("shard.start_at", s.StartAt, "must be an RFC 3339 instant, such as 2026-11-30T08:00:00Z")
	}
	if s.Slack < 0 {
		p.bad("shard.slack", s.Slack, "must not be negative")
	}
	if s.LateStart != "refuse" && s.LateStart != "allow" {
		p.bad("shard.late_start", fmt.Sprintf("%q", s.LateStart), `must be "refuse" or "allow"`)
	}
}

func (m Merge) validate(p *problems) {
	if m.MaxSkew <= 0 {
		p.bad("merge.max_skew", m.MaxSkew, "must be above 0")
	}
}
