package scenarios

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
)

// apiEndpoint is one read-only endpoint of ollama-distributed's API.
type apiEndpoint struct {
	name, path string
}

var apiReadEndpoints = []apiEndpoint{
	{"health_check", "/api/v1/health"},
	{"cluster_status", "/api/v1/cluster/status"},
	{"nodes_list", "/api/v1/nodes"},
	{"models_list", "/api/v1/models"},
}

// apiEndpoints: every read endpoint in a closed loop at each configured
// concurrency level, and in an open loop at the configured rate. Requests
// go to the nodes in turn.
func apiEndpoints(cfg *config.Config) []Spec {
	var out []Spec
	for _, ep := range apiReadEndpoints {
		for _, clients := range cfg.System.ConcurrencyLevels {
			out = append(out, Spec{
				Name:   fmt.Sprintf("api/%s/clients=%d", ep.name, clients),
				Params: map[string]string{"endpoint": ep.path, "clients": strconv.Itoa(clients), "mode": "closed"},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
					client := env.FastClient(clients)
					defer client.Close()
					_, err := env.Closed(ctx, clients, getEach(ep.name, ep.path, client, c.Nodes()))
					return err
				},
			})
		}
		if rate := cfg.API.OpenLoopRate; rate > 0 {
			out = append(out, Spec{
				Name: fmt.Sprintf("api/%s/rate=%s", ep.name, strconv.FormatFloat(rate, 'f', -1, 64)),
				Params: map[string]string{"endpoint": ep.path, "rate_per_s": strconv.FormatFloat(rate, 'f', -1, 64),
					"mode": "open", "arrival": cfg.API.Arrival},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
					client := env.FastClient(cfg.API.MaxInFlight)
					defer client.Close()
					_, err := env.Open(ctx, rate, cfg.API.MaxInFlight, getEach(ep.name, ep.path, client, c.Nodes()))
					return err
				},
			})
		}
	}
	return out
}

// getEach is an operation that GETs path from the nodes in turn.
func getEach(name, path string, client *load.FastClient, nodes []cluster.Node) load.Operation {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.API + path
	}
	var next atomic.Uint64
	return load.Operation{Name: name, Do: func(ctx context.Context) error {
		u := urls[int(next.Add(1)-1)%len(urls)]
		return client.Get(ctx, u)
	}}
}
