package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/metrics"
)

// TestShardsMergeIntoThePlannedLoad runs three odbench processes as the
// shards of one plan, the way a Kubernetes Indexed Job starts them
// (JOB_COMPLETION_INDEX, --shard-count, one --start-at), against one
// reference node started beforehand, and merges their files: the merged
// open-loop throughput is the planned rate (±2%), its histogram holds every
// shard's requests, and two shards of three are refused.
func TestShardsMergeIntoThePlannedLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := localtest.Start(t, 1)
	const shards, rate = 3, 300
	startAt := time.Now().Add(4 * time.Second).UTC().Format(time.RFC3339)
	dir := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, shards)
	for i := range shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, clustertest.Binary, "run", "--targets", c.Nodes()[0].API,
				"--categories", "api", "--scenarios", fmt.Sprintf("api/health_check/rate=%d", rate),
				"--duration", "2s", "--warmup", "500ms", "--shard-count", fmt.Sprint(shards), "--start-at", startAt,
				"--results-dir", filepath.Join(dir, fmt.Sprint(i)))
			cmd.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), fmt.Sprintf("ODBENCH_API_OPEN_LOOP_RATE=%d", rate))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("shard %d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	var runs []*metrics.Run
	var names []string
	var count int64
	for i := range shards {
		files, _ := filepath.Glob(filepath.Join(dir, fmt.Sprint(i), "odbench-*.json"))
		if len(files) != 1 {
			t.Fatalf("shard %d wrote %v", i, files)
		}
		run, err := metrics.ReadRunFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if run.Shard == nil || run.Shard.Index != i || run.Shard.Count != shards {
			t.Fatalf("shard %d recorded %+v", i, run.Shard)
		}
		count += run.Clusters[0].Scenarios[0].Operations[0].Count
		runs, names = append(runs, run), append(names, files[0])
	}
	merged, err := metrics.Merge(runs, names, metrics.MergeOptions{MaxSkew: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := merged.Clusters[0].Scenarios[0]
	op := s.Operations[0]
	// Every start the plan put in the 2 s window, split over the shards,
	// is in the merged file, and accounted for.
	if l := s.Load; l == nil || l.IntendedStarts != 2*rate || op.Count+op.Errors+op.Unfinished+l.DroppedStarts != l.IntendedStarts {
		t.Errorf("merged load %+v, op count %d errors %d unfinished %d: want the %d starts due at %d/s for 2 s, every one accounted for",
			s.Load, op.Count, op.Errors, op.Unfinished, 2*rate, rate)
	}
	h, err := metrics.DecodeHistogram(op.Histogram)
	if err != nil || h.TotalCount() != count || op.Count != count {
		t.Errorf("merged histogram holds %d requests (%v), count %d; the shards' add up to %d", h.TotalCount(), err, op.Count, count)
	}
	if s.Load == nil || s.Load.RateOpsPerSec != rate {
		t.Errorf("merged load %+v, want the planned rate %d", s.Load, rate)
	}
	t.Logf("merged %.1f/s, %d requests, p99 %v, window starts %v ms apart", op.ThroughputOpsPerSec, count,
		time.Duration(op.Latency.P99Ns), *s.ShardSkewMs)

	_, err = metrics.Merge(runs[:2], names[:2], metrics.MergeOptions{})
	if !errors.Is(err, metrics.ErrShards) || !strings.Contains(err.Error(), "shard 2 of 3 is missing") {
		t.Errorf("two shards of three: %v, want refused naming shard 2", err)
	}
	cmd := exec.CommandContext(ctx, clustertest.Binary, "merge", names[0], names[1], "-o", filepath.Join(dir, "merged.json"))
	if out, err := cmd.CombinedOutput(); cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "shard 2 of 3 is missing") {
		t.Errorf("odbench merge of two shards of three: exit %d (%v): %s; want exit 2 naming the missing shard", cmd.ProcessState.ExitCode(), err, out)
	}
}
