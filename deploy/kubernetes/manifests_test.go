// Package kubernetes holds the manifests that run odbench's shards as a
// Kubernetes Indexed Job; its test decodes them strictly into the real
// Kubernetes API types, so a misspelt field fails CI.
package kubernetes

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/odbench/odbench/internal/config"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

func decode(t *testing.T, file string, into any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

func TestManifests(t *testing.T) {
	var job batchv1.Job
	decode(t, "job.yaml", &job)
	var cm corev1.ConfigMap
	decode(t, "configmap.yaml", &cm)

	spec := job.Spec
	if spec.CompletionMode == nil || *spec.CompletionMode != batchv1.IndexedCompletion {
		t.Errorf("completionMode %v, want Indexed: each pod needs JOB_COMPLETION_INDEX", spec.CompletionMode)
	}
	if spec.Parallelism == nil || spec.Completions == nil || *spec.Parallelism != *spec.Completions {
		t.Fatalf("parallelism %v and completions %v must be set and equal: every shard runs at once", spec.Parallelism, spec.Completions)
	}
	if len(spec.Template.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Template.Spec.Containers))
	}
	c := spec.Template.Spec.Containers[0]
	if _, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":"); !ok || tag == "latest" {
		t.Errorf("image %q: name a version, not latest or nothing (the results name the build that measured)", c.Image)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request: a load machine needs its cores", r)
		}
	}
	if spec.Template.Spec.SecurityContext == nil || spec.Template.Spec.SecurityContext.RunAsNonRoot == nil || !*spec.Template.Spec.SecurityContext.RunAsNonRoot {
		t.Error("the pod does not require a non-root user")
	}

	// The config the command reads is the one the ConfigMap mounts.
	i := slices.Index(c.Args, "--config")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %q name no --config", c.Args)
	}
	path := c.Args[i+1]
	var mountDir string
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, m.MountPath+"/") {
			for _, v := range spec.Template.Spec.Volumes {
				if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Name {
					mountDir = m.MountPath
				}
			}
		}
	}
	if mountDir == "" {
		t.Fatalf("--config %s is not in a volume of ConfigMap %s", path, cm.Name)
	}
	text, ok := cm.Data[strings.TrimPrefix(path, mountDir+"/")]
	if !ok {
		t.Fatalf("ConfigMap %s has no key for %s", cm.Name, path)
	}
	if !slices.Contains(c.Args, "--emit-results") {
		t.Error("the shards do not print their results (--emit-results): odbench collect would find nothing")
	}

	// Every key of the config is one odbench knows, and it is a sharded
	// plan over an external cluster with as many shards as pods.
	if err := config.CheckFile("odbench.yaml", []byte(text)); err != nil {
		t.Errorf("the ConfigMap's odbench.yaml: %v", err)
	}
	var plan struct {
		Cluster struct {
			Driver  string   `json:"driver"`
			Targets []string `json:"targets"`
		} `json:"cluster"`
		Shard struct {
			Count int32 `json:"count"`
		} `json:"shard"`
	}
	if err := yaml.Unmarshal([]byte(text), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.Shard.Count != *spec.Parallelism {
		t.Errorf("shard.count %d, but the Job runs %d pods", plan.Shard.Count, *spec.Parallelism)
	}
	if plan.Cluster.Driver != "external" || len(plan.Cluster.Targets) == 0 {
		t.Errorf("cluster %+v: shards drive one running cluster (the external driver, with targets)", plan.Cluster)
	}
	var startAt bool
	for _, e := range c.Env {
		if e.Name == "ODBENCH_SHARD_START_AT" && e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
			startAt = true
		}
	}
	if !startAt {
		t.Error("the shards get no shared start (ODBENCH_SHARD_START_AT)")
	}
}

// TestDockerfile: a static binary, a non-root user.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "USER 65532", "ENTRYPOINT [\"/odbench\"]", "ARG VERSION", "ARG COMMIT",
		"-X github.com/odbench/odbench/internal/cli.version=${VERSION}", "-X github.com/odbench/odbench/internal/cli.commit=${COMMIT}"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

// TestDockerignore: the image's build context leaves out results, binaries
// and .git.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "bin/", "results/"} {
		if !slices.Contains(strings.Fields(string(b)), want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
