package metrics

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
)

func TestStealPercent(t *testing.T) {
	t.Parallel()
	prev := cpu.TimesStat{User: 100, System: 50, Idle: 800, Steal: 50}
	for _, tc := range []struct {
		name string
		cur  cpu.TimesStat
		want float64
	}{
		// 100 s passed, 25 of them stolen.
		{"quarter", cpu.TimesStat{User: 140, System: 60, Idle: 825, Steal: 75}, 25},
		{"none", cpu.TimesStat{User: 150, System: 50, Idle: 850, Steal: 50}, 0},
		{"no time passed", prev, -1},
		// Guest time is part of user time, not more time.
		{"guest", cpu.TimesStat{User: 140, System: 60, Idle: 825, Steal: 75, Guest: 30}, 25},
	} {
		if got := stealPercent(prev, tc.cur); got != tc.want {
			t.Errorf("%s: steal = %v%%, want %v%%", tc.name, got, tc.want)
		}
	}
}

// TestSamplerSummarizesSteal: on Linux every sample carries the host's
// steal share and the summary reports it; elsewhere it is absent with
// the reason.
func TestSamplerSummarizesSteal(t *testing.T) {
	t.Parallel()
	s := StartSampler(context.Background(), 50*time.Millisecond, []Proc{{ID: "self", PID: os.Getpid()}})
	from := time.Now()
	time.Sleep(300 * time.Millisecond)
	s.Stop()
	res := s.Summarize(from, time.Now())
	if res.Host == nil {
		t.Fatalf("no host summary: %v", res.Unavailable)
	}
	if runtime.GOOS != "linux" {
		if res.Host.StealPercentMean != nil {
			t.Errorf("steal reported as %v where the OS does not account it", *res.Host.StealPercentMean)
		}
		return
	}
	if res.Host.StealPercentMean == nil || res.Host.StealPercentMax == nil {
		t.Fatalf("no steal in the summary on Linux: %v", res.Unavailable)
	}
	if m, x := *res.Host.StealPercentMean, *res.Host.StealPercentMax; m < 0 || m > x || x > 100 {
		t.Errorf("steal mean %v, max %v: want 0 <= mean <= max <= 100", m, x)
	}
}
