package config

import (
	"fmt"
	"time"
)

// Faults configures the fault category and the consistency check that
// runs beside it: a recorded key-value workload whose history is checked
// for linearizability.
type Faults struct {
	// CheckTimeout bounds the linearizability check of one scenario's
	// history; past it the verdict is unknown, which fails the check.
	CheckTimeout time.Duration `mapstructure:"check_timeout" json:"check_timeout"`
	// HistoryClients, HistoryKeys and HistoryRate shape the recorded
	// workload: clients sending get, put and compare-and-set through every
	// node in turn, the distinct keys they share (few, so operations
	// conflict), and the operations per second of all clients together
	// (lowered for long scenarios, so that one history stays near 50,000
	// operations: checking costs more than linear time).
	HistoryClients int     `mapstructure:"history_clients" json:"history_clients"`
	HistoryKeys    int     `mapstructure:"history_keys" json:"history_keys"`
	HistoryRate    float64 `mapstructure:"history_rate" json:"history_rate"`
	// HistoryTimeout bounds one operation of the recorded workload. A
	// write cut off by it is recorded as ambiguous, a read as not done,
	// and the client goes on to the next node: a client that reached a
	// member that cannot answer (a partitioned etcd member holds a write
	// until its own timeout) keeps taking part while the fault lasts.
	HistoryTimeout time.Duration `mapstructure:"history_timeout" json:"history_timeout"`
	// LeaderKills is how many times faults/leader_failure kills the
	// leader (each restarted before the next), for the distribution of
	// election and recovery times.
	LeaderKills int `mapstructure:"leader_kills" json:"leader_kills"`
	// LinkDelay and LinkJitter shape the leader's links in
	// faults/slow_link: every write waits delay ± jitter.
	LinkDelay  time.Duration `mapstructure:"link_delay" json:"link_delay"`
	LinkJitter time.Duration `mapstructure:"link_jitter" json:"link_jitter"`
	// LinkLossPercent of the writes on the leader's links are lost in
	// faults/lossy_link (TCP resends them after 200 ms).
	LinkLossPercent float64 `mapstructure:"link_loss_percent" json:"link_loss_percent"`
	// LinkBandwidthKBPerSec caps the leader's links in faults/bandwidth_cap.
	LinkBandwidthKBPerSec float64 `mapstructure:"link_bandwidth_kb_per_s" json:"link_bandwidth_kb_per_s"`
	// DiskDelay is added to every Raft log write of the leader in
	// faults/slow_disk.
	DiskDelay time.Duration `mapstructure:"disk_delay" json:"disk_delay"`
}

func defaultFaults() Faults {
	return Faults{CheckTimeout: time.Minute, HistoryClients: 8, HistoryKeys: 8, HistoryRate: 800, HistoryTimeout: 500 * time.Millisecond,
		LeaderKills: 3, LinkDelay: 50 * time.Millisecond, LinkJitter: 25 * time.Millisecond, LinkLossPercent: 5,
		LinkBandwidthKBPerSec: 32, DiskDelay: 20 * time.Millisecond}
}

func (f Faults) validate(p *problems) {
	if f.CheckTimeout < time.Second {
		p.bad("faults.check_timeout", f.CheckTimeout, "must be at least 1s")
	}
	if f.HistoryClients < 1 || f.HistoryClients > 256 {
		p.bad("faults.history_clients", f.HistoryClients, "must be from 1 to 256")
	}
	if f.HistoryKeys < 1 {
		p.bad("faults.history_keys", f.HistoryKeys, "must be at least 1")
	}
	if f.HistoryRate <= 0 {
		p.bad("faults.history_rate", f.HistoryRate, "must be above 0")
	}
	if f.HistoryTimeout < 10*time.Millisecond {
		p.bad("faults.history_timeout", f.HistoryTimeout, "must be at least 10ms")
	}
	if f.LeaderKills < 1 || f.LeaderKills > 20 {
		p.bad("faults.leader_kills", f.LeaderKills, "must be from 1 to 20")
	}
	if f.LinkDelay < 0 || f.LinkJitter < 0 || f.LinkJitter > f.LinkDelay || f.LinkDelay > time.Minute {
		p.bad("faults.link_delay and link_jitter", fmt.Sprintf("%v and %v", f.LinkDelay, f.LinkJitter), "must be from 0 to 1m, the jitter at most the delay")
	}
	if f.LinkLossPercent <= 0 || f.LinkLossPercent > 100 {
		p.bad("faults.link_loss_percent", f.LinkLossPercent, "must be above 0 and at most 100")
	}
	if f.LinkBandwidthKBPerSec <= 0 {
		p.bad("faults.link_bandwidth_kb_per_s", f.LinkBandwidthKBPerSec, "must be above 0")
	}
	if f.DiskDelay <= 0 || f.DiskDelay > time.Minute {
		p.bad("faults.disk_delay", f.DiskDelay, "must be above 0 and at most 1m")
	}
}
