package metrics

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
)

// CollectHost describes the machine odbench runs on. Fields it cannot read
// stay empty.
func CollectHost(ctx context.Context) Host {
	h := Host{OS: runtime.GOOS, Arch: runtime.GOARCH, Cores: runtime.NumCPU(), GoVersion: runtime.Version()}
	h.Hostname, _ = os.Hostname()
	if info, err := host.InfoWithContext(ctx); err == nil {
		h.Kernel = info.KernelVersion
	}
	if infos, err := cpu.InfoWithContext(ctx); err == nil && len(infos) > 0 {
		h.CPUModel = infos[0].ModelName
	}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		h.MemoryBytes = vm.Total
	}
	return h
}

// Host warnings begin with these words, so outputs can gather them: one
// note for the many scenarios of a run that a busy host touched.
const (
	hostCPUWarning   = "host CPU averaged "
	hostStealWarning = "the hypervisor gave "
)

// HostWarnings says what a busy load machine makes of a scenario's
// figures: host CPU above cpuWarn percent, or CPU time taken by the
// hypervisor (steal) above stealWarn. A scenario with any is host-bound.
func HostWarnings(r *Resources, cpuWarn, stealWarn float64) []string {
	if r == nil || r.Host == nil {
		return nil
	}
	var out []string
	if h := r.Host; h.Samples > 0 && h.CPUPercentMean > cpuWarn {
		out = append(out, fmt.Sprintf(
			hostCPUWarning+"%.0f%% (max %.0f%%) during the measurement, above %.0f%%: the load machine, not the target, may have been the bottleneck",
			h.CPUPercentMean, h.CPUPercentMax, cpuWarn))
	}
	if h := r.Host; h.StealPercentMean != nil && *h.StealPercentMean > stealWarn {
		out = append(out, fmt.Sprintf(
			hostStealWarning+"%.0f%% of this machine's CPU time (max %.0f%%) to other guests during the measurement (steal, above %.0f%%): timings describe its neighbours as much as the target",
			*h.StealPercentMean, *h.StealPercentMax, stealWarn))
	}
	return out
}

// IsHostWarning reports whether a scenario's warning is one of HostWarnings'.
func IsHostWarning(w string) bool {
	return strings.HasPrefix(w, hostCPUWarning) || strings.HasPrefix(w, hostStealWarning)
}
