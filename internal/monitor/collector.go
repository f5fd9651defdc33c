package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/metrics"
	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// Snapshot is one reading of the cluster and the host. Metrics maps the
// alert metric names (cpu_percent, requests_per_s, ...) to values; a
// metric that could not be read is absent.
type Snapshot struct {
	At      time.Time          `json:"at"`
	Metrics map[string]float64 `json:"metrics"`
	Nodes   []NodeReading      `json:"nodes"`
	Alerts  []Alert            `json:"alerts"`
	// Missing says why metrics are absent.
	Missing []string `json:"missing,omitempty"`
	// ActionFailures are the latest alert actions that could not be
	// delivered (monitor.alerts[].actions).
	ActionFailures []string `json:"action_failures,omitempty"`
}

// NodeReading is one node's part of a snapshot.
type NodeReading struct {
	URL        string  `json:"url"`
	ID         string  `json:"id,omitempty"`
	Up         bool    `json:"up"`
	Error      string  `json:"error,omitempty"`
	Goroutines int     `json:"goroutines,omitempty"`
	HeapMB     float64 `json:"heap_mb,omitempty"`
	ProbeMs    float64 `json:"probe_ms,omitempty"`
	// RequestsPerS is the node's own request rate (absent on the first
	// reading or when the node does not count requests).
	RequestsPerS *float64 `json:"requests_per_s,omitempty"`
	// Fault describes the fault rules in force on the node (the reference
	// node's /api/v1/admin/faults), empty when none.
	Fault string `json:"fault,omitempty"`
}

// faultsView is the part of the reference node's GET /api/v1/admin/faults
// the monitor reads.
type faultsView struct {
	Drop      []string       `json:"drop_addrs"`
	Links     map[string]any `json:"links"`
	Corrupt   bool           `json:"corrupt_blobs"`
	DiskDelay string         `json:"disk_delay"`
}

// describe says which faults are in force, or "".
func (f faultsView) describe() string {
	var parts []string
	if len(f.Drop) > 0 {
		parts = append(parts, fmt.Sprintf("traffic to %d addresses dropped", len(f.Drop)))
	}
	if len(f.Links) > 0 {
		parts = append(parts, fmt.Sprintf("%d links shaped", len(f.Links)))
	}
	if f.Corrupt {
		parts = append(parts, "blobs corrupted")
	}
	if f.DiskDelay != "" && f.DiskDelay != "0s" {
		parts = append(parts, "disk slowed by "+f.DiskDelay)
	}
	return strings.Join(parts, ", ")
}

// nodeMetrics is the part of GET /api/v1/metrics the monitor reads.
type nodeMetrics struct {
	ID             string  `json:"id"`
	Goroutines     *int    `json:"goroutines"`
	HeapAllocBytes *uint64 `json:"heap_alloc_bytes"`
	Requests       *int64  `json:"requests_total"`
	ServerErrors   *int64  `json:"server_errors_total"`
	CommitIndex    *uint64 `json:"raft_commit_index"`
}

// Collector polls a cluster and the host.
type Collector struct {
	urls   []string
	client *http.Client
	window time.Duration // the span of probes latency covers

	// noFaults remembers the targets without a fault-admin route, so they
	// are asked once.
	noFaults sync.Map

	mu        sync.Mutex
	prevAt    time.Time
	prevReq   map[string]int64
	prevErr   map[string]int64
	prevNet   uint64
	maxCommit uint64
	probes    []probe // newest last
	steal     *metrics.StealMeter
}

// probe is one timed health request.
type probe struct {
	at time.Time
	ms float64
}

// NewCollector watches the nodes at urls; latency statistics cover the
// probes of the last window.
func NewCollector(ctx context.Context, urls []string, window time.Duration) *Collector {
	return &Collector{urls: urls, client: &http.Client{Timeout: 2 * time.Second}, window: window,
		prevReq: map[string]int64{}, prevErr: map[string]int64{}, steal: metrics.NewStealMeter(ctx)}
}

// Collect takes one snapshot.
func (c *Collector) Collect(ctx context.Context) Snapshot {
	now := time.Now()
	s := Snapshot{At: now, Metrics: map[string]float64{}}
	if pct, err := cpu.PercentWithContext(ctx, 0, false); err == nil && len(pct) == 1 {
		s.Metrics["cpu_percent"] = pct[0]
	}
	var netBytes uint64
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		s.Metrics["memory_percent"] = vm.UsedPercent
		s.Metrics["memory_mb"] = float64(vm.Used) / 1e6 // MB, 10^6 bytes, as the name says
	}
	if io, err := net.IOCountersWithContext(ctx, false); err == nil && len(io) == 1 {
		netBytes = io[0].BytesSent + io[0].BytesRecv
	}
	type reading struct {
		NodeReading
		m nodeMetrics
	}
	readings := make([]reading, len(c.urls))
	var wg sync.WaitGroup
	for i, u := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := reading{NodeReading: NodeReading{URL: u}}
			began := time.Now()
			if err := c.get(ctx, u+"/api/v1/health", nil); err != nil {
				r.Error = err.Error()
				readings[i] = r
				return
			}
			r.Up, r.ProbeMs = true, float64(time.Since(began).Microseconds())/1000
			if err := c.get(ctx, u+"/api/v1/metrics", &r.m); err == nil {
				r.ID = r.m.ID
				if r.m.Goroutines != nil {
					r.Goroutines = *r.m.Goroutines
				}
				if r.m.HeapAllocBytes != nil {
					r.HeapMB = float64(*r.m.HeapAllocBytes) / 1e6
				}
			}
			if _, no := c.noFaults.Load(u); !no {
				var f faultsView
				switch err := c.get(ctx, u+"/api/v1/admin/faults", &f); {
				case err == nil:
					r.Fault = f.describe()
				case strings.HasPrefix(err.Error(), "HTTP 4"): // not served here
					c.noFaults.Store(u, true)
				}
			}
			readings[i] = r
		}()
	}
	wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	if pct, ok := c.steal.Read(ctx); ok {
		s.Metrics["steal_percent"] = pct
	} else {
		s.Missing = append(s.Missing, "steal_percent: not measurable here (only Linux reports steal)")
	}
	dt := now.Sub(c.prevAt).Seconds()
	first := c.prevAt.IsZero()
	var goroutines, reqDelta, errDelta float64
	var haveG, haveReq bool
	var maxCommit uint64
	var haveCommit bool
	for _, r := range readings {
		if r.Up && r.m.Requests != nil && !first && dt > 0 {
			if prev, ok := c.prevReq[r.URL]; ok && *r.m.Requests >= prev {
				rate := float64(*r.m.Requests-prev) / dt
				r.RequestsPerS = &rate
			}
		}
		s.Nodes = append(s.Nodes, r.NodeReading)
		if !r.Up {
			continue
		}
		c.probes = append(c.probes, probe{now, r.ProbeMs})
		if r.m.Goroutines != nil {
			goroutines += float64(*r.m.Goroutines)
			haveG = true
		}
		if r.m.Requests != nil {
			if prev, ok := c.prevReq[r.URL]; ok && *r.m.Requests >= prev {
				reqDelta += float64(*r.m.Requests - prev)
				haveReq = true
			}
			c.prevReq[r.URL] = *r.m.Requests
		}
		if r.m.ServerErrors != nil {
			if prev, ok := c.prevErr[r.URL]; ok && *r.m.ServerErrors >= prev {
				errDelta += float64(*r.m.ServerErrors - prev)
			}
			c.prevErr[r.URL] = *r.m.ServerErrors
		}
		if r.m.CommitIndex != nil {
			maxCommit = max(maxCommit, *r.m.CommitIndex)
			haveCommit = true
		}
	}
	keep := 0
	for keep < len(c.probes) && now.Sub(c.probes[keep].at) >= c.window {
		keep++
	}
	c.probes = c.probes[keep:]
	if haveG {
		s.Metrics["goroutines"] = goroutines
	} else {
		s.Missing = append(s.Missing, "goroutines: no node reports them (GET /api/v1/metrics)")
	}
	if len(c.probes) > 0 {
		sorted := make([]float64, len(c.probes))
		for i, p := range c.probes {
			sorted[i] = p.ms
		}
		sort.Float64s(sorted)
		var sum float64
		for _, v := range sorted {
			sum += v
		}
		s.Metrics["latency_avg_ms"] = sum / float64(len(sorted))
		s.Metrics["latency_p95_ms"] = sorted[(len(sorted)*95-1)/100]
	}
	if !first && dt > 0 {
		if netBytes >= c.prevNet && c.prevNet > 0 {
			s.Metrics["net_mb_per_s"] = float64(netBytes-c.prevNet) / 1e6 / dt
		}
		if haveReq {
			s.Metrics["requests_per_s"] = reqDelta / dt
			if reqDelta > 0 {
				s.Metrics["error_rate_percent"] = 100 * errDelta / reqDelta
			} else {
				s.Metrics["error_rate_percent"] = 0
			}
		} else {
			s.Missing = append(s.Missing, "requests_per_s, error_rate_percent: no node reports requests_total")
		}
		if haveCommit && maxCommit >= c.maxCommit {
			s.Metrics["ops_per_s"] = float64(maxCommit-c.maxCommit) / dt
		} else if !haveCommit {
			s.Missing = append(s.Missing, "ops_per_s: no node reports raft_commit_index")
		}
	}
	c.prevAt, c.prevNet = now, netBytes
	if haveCommit {
		c.maxCommit = maxCommit
	}
	return s
}

func (c *Collector) get(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if v == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}
