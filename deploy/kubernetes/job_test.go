package kubernetes

import (
	"bytes"
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

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/cluster/localtest"
)

func TestMain(m *testing.M) { os.Exit(clustertest.MainWithLeakCheck(m)) }

// TestJobReportsEveryShard runs the Job's own command line as three
// processes, each with its JOB_COMPLETION_INDEX and the shared start from
// odbench shard-start, against a 2-node reference cluster whose round
// robin is stuck: shard 0, which alone runs the unsplittable round robin
// scenario, finds it failing. Every shard still exits 0 once it has
// printed its results, collect gathers all three from their logs, and
// merge's exit code, 1, is the verdict.
func TestJobReportsEveryShard(t *testing.T) {
	var job batchv1.Job
	decode(t, "job.yaml", &job)
	var cm corev1.ConfigMap
	decode(t, "configmap.yaml", &cm)
	c := localtest.Start(t, 2, "--debug-stuck-round-robin", "--token-delay", "1ms")

	// The ConfigMap's plan, aimed at the local cluster and shortened.
	var plan map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["odbench.yaml"]), &plan); err != nil {
		t.Fatal(err)
	}
	plan["cluster"] = map[string]any{"driver": "external", "targets": []string{c.Nodes()[0].API, c.Nodes()[1].API}}
	plan["execution"] = map[string]any{"duration": "1s", "warmup_duration": "0s",
		"scenarios": []string{"api/health_check/rate=30", "loadbalance/policy=round_robin"}}
	plan["categories"] = map[string]any{"api": true, "loadbalance": true, "inference": false}
	plan["api"] = map[string]any{"open_loop_rate": 30}
	dir := t.TempDir()
	b, err := yaml.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "odbench.yaml")
	if err := os.WriteFile(confPath, b, 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	startAt, err := exec.CommandContext(ctx, clustertest.Binary, "shard-start", "--in", "4s").Output()
	if err != nil {
		t.Fatal(err)
	}
	container := job.Spec.Template.Spec.Containers[0]
	pods := int(*job.Spec.Completions)
	logs := make([]bytes.Buffer, pods)
	errs := make([]error, pods)
	var wg sync.WaitGroup
	for i := range pods {
		// The pod's args, its mounted paths mapped to this test's.
		args := strings.Join(container.Args, "\x00")
		args = strings.ReplaceAll(args, "/etc/odbench/odbench.yaml", confPath)
		args = strings.ReplaceAll(args, "/results", filepath.Join(dir, fmt.Sprint("results-", i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, clustertest.Binary, strings.Split(args, "\x00")...)
			cmd.Env = append(os.Environ(), fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i), "ODBENCH_SHARD_START_AT="+strings.TrimSpace(string(startAt)))
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &logs[i], &stderr
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("shard %d: %v\n%s", i, err, stderr.String())
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("a shard did not exit 0 after reporting: %v", err)
	}

	// kubectl logs -l job-name=odbench | odbench collect -o shards
	collect := exec.CommandContext(ctx, clustertest.Binary, "collect", "-o", filepath.Join(dir, "shards"))
	collect.Stdin = strings.NewReader(logs[0].String() + logs[1].String() + logs[2].String())
	if out, err := collect.CombinedOutput(); err != nil {
		t.Fatalf("collect: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "shards", "*.json"))
	if len(files) != pods {
		t.Fatalf("collected %v, want every shard's results", files)
	}
	merge := exec.CommandContext(ctx, clustertest.Binary, append([]string{"merge", "-o", filepath.Join(dir, "merged.json")}, files...)...)
	out, err := merge.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "1 of 2 scenario runs failed") {
		t.Errorf("merge: %v\n%s\nwant exit 1, the merged run's verdict: a scenario failed", err, out)
	}
}
