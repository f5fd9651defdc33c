package metrics

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
)

// Proc names a process to sample.
type Proc struct {
	ID  string
	PID int
}

// Sample is one reading of the host and the sampled processes.
type Sample struct {
	At      time.Time
	HostCPU float64 // percent of all cores, 0..100; -1 when unreadable
	// HostSteal is the percent of all cores' time that the hypervisor gave
	// to other guests since the previous sample (Linux "steal"); -1 when
	// unreadable or not reported by the OS.
	HostSteal  float64
	MemUsed    uint64
	MemPercent float64
	NetSent    uint64 // cumulative bytes, all interfaces
	NetRecv    uint64
	Procs      []ProcSample
}

// ProcSample is one process's reading.
type ProcSample struct {
	ID        string
	PID       int
	CPU       float64 // percent of one core
	RSS       uint64
	OpenFiles int
	Threads   int
	Err       string
}

// Sampler polls host and process resources in the background.
type Sampler struct {
	interval time.Duration
	procs    []Proc

	mu      sync.Mutex
	samples []Sample
	handles map[int]*process.Process
	gone    map[string]string
	// steal is only used by the sampling goroutine after StartSampler.
	steal *StealMeter

	cancel context.CancelFunc
	done   chan struct{}
}

// StartSampler starts sampling procs and the host every interval until Stop.
func StartSampler(ctx context.Context, interval time.Duration, procs []Proc) *Sampler {
	ctx, cancel := context.WithCancel(ctx)
	s := &Sampler{interval: interval, procs: procs, handles: map[int]*process.Process{},
		gone: map[string]string{}, cancel: cancel, done: make(chan struct{})}
	// Prime the CPU counters: the first Percent(0) call only sets a baseline.
	_, _ = cpu.PercentWithContext(ctx, 0, false)
	s.steal = NewStealMeter(ctx)
	for _, p := range procs {
		if h, err := process.NewProcessWithContext(ctx, int32(p.PID)); err == nil {
			_, _ = h.PercentWithContext(ctx, 0)
			s.handles[p.PID] = h
		} else {
			s.gone[p.ID] = err.Error()
		}
	}
	go s.loop(ctx)
	return s
}

func (s *Sampler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			smp := s.read(ctx, now)
			s.mu.Lock()
			s.samples = append(s.samples, smp)
			s.mu.Unlock()
		}
	}
}

func (s *Sampler) read(ctx context.Context, now time.Time) Sample {
	smp := Sample{At: now, HostCPU: -1, HostSteal: -1}
	if pct, err := cpu.PercentWithContext(ctx, 0, false); err == nil && len(pct) == 1 {
		smp.HostCPU = pct[0]
	}
	if pct, ok := s.steal.Read(ctx); ok {
		smp.HostSteal = pct
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		smp.MemUsed, smp.MemPercent = vm.Used, vm.UsedPercent
	}
	if io, err := net.IOCountersWithContext(ctx, false); err == nil && len(io) == 1 {
		smp.NetSent, smp.NetRecv = io[0].BytesSent, io[0].BytesRecv
	}
	for _, p := range s.procs {
		h := s.handles[p.PID]
		if h == nil {
			continue
		}
		ps := ProcSample{ID: p.ID, PID: p.PID}
		if c, err := h.PercentWithContext(ctx, 0); err == nil {
			ps.CPU = c
		} else {
			ps.Err = err.Error()
		}
		if m, err := h.MemoryInfoWithContext(ctx); err == nil {
			ps.RSS = m.RSS
		} else {
			ps.Err = err.Error()
		}
		if n, err := h.NumFDsWithContext(ctx); err == nil {
			ps.OpenFiles = int(n)
		}
		if n, err := h.NumThreadsWithContext(ctx); err == nil {
			ps.Threads = int(n)
		}
		smp.Procs = append(smp.Procs, ps)
	}
	return smp
}

// StealMeter measures the share of all cores' time that the hypervisor gave
// to other guests (Linux "steal") between readings: on a shared virtual
// machine, the CPU taken away without the host looking busy.
type StealMeter struct{ last *cpu.TimesStat }

// NewStealMeter takes the first reading.
func NewStealMeter(ctx context.Context) *StealMeter { return &StealMeter{last: hostTimes(ctx)} }

// Read returns the steal percent since the previous reading; ok is false
// where it cannot be measured (not Linux, unreadable, no time passed).
func (m *StealMeter) Read(ctx context.Context) (pct float64, ok bool) {
	t := hostTimes(ctx)
	if t == nil {
		return 0, false
	}
	prev := m.last
	m.last = t
	if prev == nil {
		return 0, false
	}
	pct = stealPercent(*prev, *t)
	return pct, pct >= 0
}

// hostTimes reads the host's CPU times, or nil where steal time is not
// reported (only Linux accounts it).
func hostTimes(ctx context.Context) *cpu.TimesStat {
	if runtime.GOOS != "linux" {
		return nil
	}
	t, err := cpu.TimesWithContext(ctx, false)
	if err != nil || len(t) != 1 {
		return nil
	}
	return &t[0]
}

// stealPercent is the share of the CPU time between two readings that the
// hypervisor gave to other guests, in percent; -1 if no time passed.
func stealPercent(prev, cur cpu.TimesStat) float64 {
	// Linux counts guest time inside user time too, so Total has it twice.
	sum := func(t cpu.TimesStat) float64 { return t.Total() - t.Guest - t.GuestNice }
	total := sum(cur) - sum(prev)
	if total <= 0 {
		return -1
	}
	return min(100, max(0, 100*(cur.Steal-prev.Steal)/total))
}

// Stop ends sampling and waits for the sampling goroutine. Safe to call twice.
func (s *Sampler) Stop() {
	s.cancel()
	<-s.done
}

// Samples returns a copy of the samples taken so far.
func (s *Sampler) Samples() []Sample {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Sample(nil), s.samples...)
}

// Summarize condenses the samples taken within [from, to] into Resources.
// Processes that could not be sampled are listed in Unavailable.
func (s *Sampler) Summarize(from, to time.Time) *Resources {
	res := &Resources{IntervalMs: s.interval.Milliseconds()}
	var in []Sample
	for _, smp := range s.Samples() {
		if !smp.At.Before(from) && !smp.At.After(to) {
			in = append(in, smp)
		}
	}
	for id, why := range s.gone {
		res.Unavailable = append(res.Unavailable, fmt.Sprintf("process %s: %s", id, why))
	}
	if len(in) == 0 {
		res.Unavailable = append(res.Unavailable,
			fmt.Sprintf("no resource sample fell inside the %v measured window (sampling every %v)", to.Sub(from).Round(time.Millisecond), s.interval))
		return res
	}
	h := &HostResources{}
	var cpuN, stealN int
	var stealSum, stealMax float64
	for _, smp := range in {
		if smp.HostCPU >= 0 {
			h.CPUPercentMean += smp.HostCPU
			cpuN++
			h.CPUPercentMax = max(h.CPUPercentMax, smp.HostCPU)
		}
		if smp.HostSteal >= 0 {
			stealSum += smp.HostSteal
			stealN++
			stealMax = max(stealMax, smp.HostSteal)
		}
		h.MemUsedBytesMax = max(h.MemUsedBytesMax, smp.MemUsed)
		h.MemPercentMax = max(h.MemPercentMax, smp.MemPercent)
	}
	h.Samples = cpuN
	if cpuN > 0 {
		h.CPUPercentMean /= float64(cpuN)
	}
	if stealN > 0 {
		mean := stealSum / float64(stealN)
		h.StealPercentMean, h.StealPercentMax = &mean, &stealMax
	} else {
		res.Unavailable = append(res.Unavailable, "host steal time: unreadable, or not reported by this OS")
	}
	first, last := in[0], in[len(in)-1]
	if last.NetSent >= first.NetSent && last.NetRecv >= first.NetRecv {
		h.NetSentBytes, h.NetRecvBytes = last.NetSent-first.NetSent, last.NetRecv-first.NetRecv
	}
	res.Host = h

	for _, p := range s.procs {
		nr := NodeResources{ID: p.ID, PID: p.PID}
		var rssSum uint64
		for _, smp := range in {
			for _, ps := range smp.Procs {
				if ps.PID != p.PID || ps.Err != "" {
					continue
				}
				nr.Samples++
				nr.CPUPercentMean += ps.CPU
				nr.CPUPercentMax = max(nr.CPUPercentMax, ps.CPU)
				rssSum += ps.RSS
				nr.RSSBytesMax = max(nr.RSSBytesMax, ps.RSS)
				nr.OpenFilesMax = max(nr.OpenFilesMax, ps.OpenFiles)
				nr.ThreadsMax = max(nr.ThreadsMax, ps.Threads)
			}
		}
		if nr.Samples == 0 {
			if _, known := s.gone[p.ID]; !known {
				res.Unavailable = append(res.Unavailable, fmt.Sprintf("process %s (pid %d): no readable sample in the window", p.ID, p.PID))
			}
			continue
		}
		nr.CPUPercentMean /= float64(nr.Samples)
		nr.RSSBytesMean = rssSum / uint64(nr.Samples)
		res.Nodes = append(res.Nodes, nr)
	}
	return res
}
