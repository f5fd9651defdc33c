package scenarios

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/target"
	"golang.org/x/time/rate"
)

// Families of what a scenario may need from its target. Before a
// cluster's scenarios run, Probe asks the target profile whether it
// spells each, and the first node whether it serves it; a scenario that
// needs a family the target lacks is skipped with the answer that showed
// it, instead of failing.
const (
	famHealth    = "health"
	famCluster   = "cluster status"
	famKV        = "key-value store"
	famNodes     = "node registry"
	famModels    = "model registry"
	famBlobs     = "blob ranges"
	famBroadcast = "gossip broadcast"
	famLocate    = "content location"
	famMetrics   = "runtime metrics"
	famPolicy    = "scheduling policy"
	famInference = "inference"
)

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
	{"loadbalance/prefix_cache", []string{famPolicy, famInference, famMetrics}},
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
	if strings.HasPrefix(name, "faults/") && !strings.HasPrefix(name, "faults/inference") {
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

// Capabilities says, per family, why the target does not offer it (absent
// families are offered, or could not be told: a node that does not answer
// at all fails its scenarios instead).
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

// probe is what shows a family: the profile's request, sent to the first
// node (nil: the profile lacks the family, why says so). A route
// answering about a missing resource (a 404 with a JSON body) is served.
type probe struct {
	req *target.Request
	v   target.Vars
	why string
}

// probesOf returns the probe of every family in profile p.
func probesOf(p *target.Profile) map[string]probe {
	lacks := func(what string) probe { return probe{why: fmt.Sprintf("the %s profile has no %s", p.Name, what)} }
	route := func(names ...string) probe {
		for _, n := range names {
			if _, ok := p.Routes[n]; !ok {
				return lacks("route " + n)
			}
		}
		r := p.Routes[names[0]]
		return probe{req: &r, v: target.Vars{Name: "odbench-capability-probe"}}
	}
	out := map[string]probe{
		famNodes:     route("nodes_list", "node_get"),
		famModels:    route("models_list", "model_get", "model_download"),
		famBlobs:     route("blob_get"),
		famBroadcast: route("p2p_message", "p2p_broadcast"),
		famLocate:    route("p2p_locate"),
		famMetrics:   route("metrics"),
		famPolicy:    route("policy_get", "policy_set"),
	}
	if p.Health != nil {
		out[famHealth] = probe{req: p.Health}
	} else {
		out[famHealth] = lacks("health request")
	}
	if p.Status != nil {
		out[famCluster] = probe{req: &p.Status.Request}
	} else {
		out[famCluster] = lacks("status section")
	}
	if p.KV != nil {
		out[famKV] = probe{req: &p.KV.Get.Request, v: target.Vars{Key: "odbench-capability-probe"}}
	} else {
		out[famKV] = lacks("kv section")
	}
	if p.Inference == nil {
		out[famInference] = lacks("inference section")
	}
	return out
}

// Probe asks env's target profile, and the first node of c, which
// families the target offers. The inference family is asked the route its
// scenarios use, with a short request; a 2xx answer that generates
// nothing (a placeholder) counts as served, so that its scenarios run and
// fail with errors of kind placeholder rather than being skipped. Its
// requests are paced below the target's rate limit.
func Probe(ctx context.Context, c cluster.Cluster, cfg *config.Config, p *target.Profile) Capabilities {
	out := Capabilities{}
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return out
	}
	base := nodes[0].API
	client := load.NewFastClient(2, 10*time.Second)
	defer client.Close()
	var limit *rate.Limiter
	env := &Env{Config: cfg, Target: p}
	if r := env.rateLimit(); r > 0 {
		limit = rate.NewLimiter(rate.Limit(r*target.OwnShare), 1)
	}
	wait := func() bool { return limit == nil || limit.Wait(ctx) == nil }
	for f, pr := range probesOf(p) {
		switch {
		case pr.req == nil:
			out[f] = pr.why
		case !wait():
			return out
		default:
			if why := probeRequest(ctx, client, base, pr); why != "" {
				out[f] = why
			}
		}
	}
	if p.Inference != nil && wait() {
		if why := probeInference(ctx, client, base, env); why != "" {
			out[famInference] = why
		}
	}
	return out
}

// placeholder matches answers showing that a route exists only in name.
var placeholder = regexp.MustCompile(`(?i)not (yet )?implemented|placeholder|\bTODO\b`)

// probeRequest returns why the node at base does not serve pr, or "".
func probeRequest(ctx context.Context, client *load.FastClient, base string, pr probe) string {
	call, err := pr.req.Render(base, pr.v)
	if err != nil {
		return err.Error()
	}
	var why string
	err = client.Send(ctx, call.Method, call.URL, call.Headers, call.Body, func(code int, _ func(string) string, body []byte) error {
		answer := fmt.Sprintf("%s answered HTTP %d", pr.req.Describe(), code)
		jsonBody := strings.HasPrefix(strings.TrimSpace(string(body)), "{")
		switch {
		case code == http.StatusNotFound && jsonBody:
		case code == http.StatusNotFound, code == http.StatusMethodNotAllowed, code == http.StatusNotImplemented:
			why = answer
		case code/100 == 2 && placeholder.Match(body):
			why = fmt.Sprintf("%s answered a placeholder: %.80s", pr.req.Describe(), strings.TrimSpace(string(body)))
		}
		return nil
	})
	if err != nil {
		return "" // not answering is not a missing route: the scenarios will say
	}
	return why
}

// probeInference sends one short whole request to the inference route the
// scenarios use and returns why the target does not serve it, or "".
func probeInference(ctx context.Context, client *load.FastClient, base string, env *Env) string {
	t := inferTargetOf(env, false)
	t.numPredict = 1
	path, body := t.request(false)
	var why string
	err := client.Send(ctx, http.MethodPost, base+path, t.headers(), body, func(code int, _ func(string) string, b []byte) error {
		switch {
		case code == http.StatusNotFound && !strings.HasPrefix(strings.TrimSpace(string(b)), "{"),
			code == http.StatusMethodNotAllowed, code == http.StatusNotImplemented:
			why = fmt.Sprintf("POST %s answered HTTP %d", path, code)
		}
		// A 2xx placeholder is served in name only: the scenarios run and
		// fail, their answers counted as errors of kind placeholder, so
		// that a target claiming inference it does not do is never a skip.
		return nil
	})
	if err != nil {
		return ""
	}
	return why
}
