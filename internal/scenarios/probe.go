package scenarios

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
)

// Route families a scenario may need from its target. Before a cluster's
// scenarios run, Probe asks the first node once per family; a scenario
// that needs a family the target does not serve is skipped with the
// answer that showed it, instead of failing.
const (
	famHealth    = "health"          // GET /api/v1/health
	famCluster   = "cluster status"  // GET /api/v1/cluster/status with a leader
	famKV        = "key-value store" // /api/v1/kv/{key}
	famNodes     = "node registry"   // /api/v1/nodes
	famModels    = "model registry"  // /api/v1/models
	famBlobs     = "blob ranges"     // /api/v1/blobs/{digest}
	famBroadcast = "gossip broadcast"
	famLocate    = "content location"
	famMetrics   = "runtime metrics" // GET /api/v1/metrics
	famPolicy    = "scheduling policy"
	famInference = "inference"
)

// probeOf is the request that shows whether a family is served. A route
// answering about a missing resource (a 404 with a JSON body) is served.
type probeOf struct {
	path      string
	missingOK bool
}

var probes = map[string]probeOf{
	famHealth:    {path: "/api/v1/health"},
	famCluster:   {path: "/api/v1/cluster/status"},
	famKV:        {path: "/api/v1/kv/odbench-capability-probe", missingOK: true},
	famNodes:     {path: "/api/v1/nodes"},
	famModels:    {path: "/api/v1/models"},
	famBlobs:     {path: "/api/v1/blobs/sha256:odbench-capability-probe", missingOK: true},
	famBroadcast: {path: "/api/v1/p2p/messages/odbench-capability-probe", missingOK: true},
	famLocate:    {path: "/api/v1/p2p/locate/sha256:odbench-capability-probe", missingOK: true},
	famMetrics:   {path: "/api/v1/metrics"},
	famPolicy:    {path: "/api/v1/admin/policy"},
}

// routeNeeds maps scenario name prefixes to the families they need.
var routeNeeds = []struct {
	prefix   string
	families []string
}{
	{"consensus/", []string{famCluster, famKV}},
	{"p2p/broadcast", []string{famBroadcast}},
	{"p2p/locate", []string{famModels, famLocate}},
	{"p2p/rejoin", []string{famCluster}},
	{"models/", []string{famModels, famBlobs}},
	{"api/health_check", []string{famHealth}},
	{"api/cluster_status", []string{famCluster}},
	{"api/node_operations", []string{famNodes}},
	{"api/model_operations", []string{famModels}},
	{"api/generate_requests", []string{famInference}},
	{"api/chat_requests", []string{famInference}},
	{"concurrency/contention", []string{famCluster, famKV}},
	{"concurrency/stress", []string{famCluster, famKV}},
	{"faults/", []string{famCluster}},
	{"faults/inference", []string{famInference}},
	{"loadbalance/policy=", []string{famPolicy, famInference}},
	{"loadbalance/saturation", []string{famInference}},
	{"inference/", []string{famInference}},
}

// routesFor lists the families a scenario needs; the mixed workloads need
// those of the operations their weights enable.
func routesFor(name string, cfg *config.Config) []string {
	var out []string
	for _, n := range routeNeeds {
		if strings.HasPrefix(name, n.prefix) {
			out = append(out, n.families...)
		}
	}
	if strings.HasPrefix(name, "faults/") {
		out = append(out, famKV) // the history workload, and the write load
	}
	if strings.HasPrefix(name, "memory/") || strings.HasPrefix(name, "concurrency/mixed") || strings.HasPrefix(name, "concurrency/deadlock") {
		if strings.HasPrefix(name, "memory/") {
			out = append(out, famMetrics)
		}
		mix := cfg.Concurrency.Mix
		if mix["kv_read"] > 0 || mix["kv_write"] > 0 {
			out = append(out, famCluster, famKV)
		}
		if mix["api_read"] > 0 {
			out = append(out, famNodes)
		}
		if mix["generate"] > 0 {
			out = append(out, famInference)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Capabilities says, per route family, why the target does not serve it
// (absent families are served, or could not be told: a node that does not
// answer at all fails its scenarios instead).
type Capabilities map[string]string

// Missing returns why spec cannot run against the target, or "".
func (c Capabilities) Missing(spec Spec) string {
	var why []string
	for _, f := range spec.Routes {
		if reason, ok := c[f]; ok {
			why = append(why, fmt.Sprintf("%s (%s)", f, reason))
		}
	}
	if len(why) == 0 {
		return ""
	}
	return "the target does not serve " + strings.Join(why, " or ")
}

// Families lists the families the target lacks, sorted.
func (c Capabilities) Families() []string {
	out := make([]string, 0, len(c))
	for f := range c {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// placeholder matches answers that a route exists only in name.
var placeholder = regexp.MustCompile(`(?i)not (yet )?implemented|placeholder|\bTODO\b`)

// Probe asks the first node of c which route families it serves.
func Probe(ctx context.Context, c cluster.Cluster, cfg *config.Config) Capabilities {
	out := Capabilities{}
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return out
	}
	base := nodes[0].API
	client := &http.Client{Timeout: 5 * time.Second}
	all := map[string]probeOf{}
	for f, p := range probes {
		all[f] = p
	}
	all[famInference] = inferenceProbe(cfg)
	for f, p := range all {
		if reason := probeFamily(ctx, client, base, p); reason != "" {
			out[f] = reason
		}
	}
	return out
}

// inferenceProbe is the route that shows an inference API: Ollama's model
// list, or an OpenAI-compatible server's.
func inferenceProbe(cfg *config.Config) probeOf {
	if cfg.Inference.API == "openai" {
		return probeOf{path: "/v1/models"}
	}
	return probeOf{path: "/api/tags"}
}

// probeFamily returns why the route at base+p.path is not served, or "".
func probeFamily(ctx context.Context, client *http.Client, base string, p probeOf) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p.path, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return "" // not answering is not a missing route: the scenarios will say
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	answer := fmt.Sprintf("GET %s answered %s", p.path, resp.Status)
	jsonBody := strings.HasPrefix(strings.TrimSpace(string(body)), "{")
	switch {
	case resp.StatusCode == http.StatusNotFound && p.missingOK && jsonBody:
		return ""
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusMethodNotAllowed, resp.StatusCode == http.StatusNotImplemented:
		return answer
	case resp.StatusCode/100 == 2 && placeholder.Match(body):
		return fmt.Sprintf("GET %s answered a placeholder: %.80s", p.path, strings.TrimSpace(string(body)))
	}
	return ""
}
