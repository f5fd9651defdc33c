package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/target"
)

// apiReads are the single-request api scenarios: a member's health
// request and its status request, as the target profile spells them.
var apiReads = []struct {
	name    string
	request func(p *target.Profile) *target.Request
	what    string
}{
	{"health_check", func(p *target.Profile) *target.Request { return p.Health }, "health"},
	{"cluster_status", func(p *target.Profile) *target.Request {
		if p.Status == nil {
			return nil
		}
		return &p.Status.Request
	}, "status"},
}

// apiEndpoints: the older framework's API list. health_check and
// cluster_status are single reads; node_operations, model_operations,
// generate_requests and chat_requests are mixes with one histogram per
// operation. Each runs in a closed loop at every concurrency level and in
// an open loop at the configured rate (generate and chat at the inference
// rate, since each request holds a slot for num_predict tokens). Requests
// go to the nodes in turn.
func apiEndpoints(cfg *config.Config) []Spec {
	var out []Spec
	for _, m := range apiMixes(cfg) {
		for _, clients := range cfg.System.ConcurrencyLevels {
			out = append(out, Spec{
				Name:   fmt.Sprintf("api/%s/clients=%d", m.name, clients),
				Params: map[string]string{"clients": itoa(clients), "mode": "closed"},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
					ops, cleanup, err := m.setup(ctx, env, c, clients)
					if err != nil {
						return err
					}
					defer cleanup()
					_, err = env.Closed(ctx, clients, ops...)
					return err
				},
			})
		}
		if m.rate > 0 {
			r := strconv.FormatFloat(m.rate, 'f', -1, 64)
			out = append(out, Spec{
				Name:   fmt.Sprintf("api/%s/rate=%s", m.name, r),
				Params: map[string]string{"rate_per_s": r, "mode": "open", "arrival": cfg.API.Arrival},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
					ops, cleanup, err := m.setup(ctx, env, c, cfg.API.MaxInFlight)
					if err != nil {
						return err
					}
					defer cleanup()
					_, err = env.Open(ctx, m.rate, cfg.API.MaxInFlight, ops...)
					return err
				},
			})
		}
	}
	return out
}

// apiMix is one api scenario family: it prepares its operations (and what
// they need on the target) and returns a cleanup.
type apiMix struct {
	name  string
	rate  float64
	setup func(ctx context.Context, env *Env, c cluster.Cluster, conns int) ([]load.Operation, func(), error)
}

func apiMixes(cfg *config.Config) []apiMix {
	var out []apiMix
	for _, ep := range apiReads {
		out = append(out, apiMix{name: ep.name, rate: cfg.API.OpenLoopRate,
			setup: func(ctx context.Context, env *Env, c cluster.Cluster, conns int) ([]load.Operation, func(), error) {
				r := ep.request(env.Target)
				if r == nil {
					return nil, nil, Skip("the %s profile has no %s request", env.Target.Name, ep.what)
				}
				client := env.FastClient(conns)
				return []load.Operation{requestEach(ep.name, r, client, c.Nodes())}, client.Close, nil
			}})
	}
	out = append(out,
		apiMix{name: "node_operations", rate: cfg.API.OpenLoopRate, setup: nodeOperations},
		apiMix{name: "model_operations", rate: cfg.API.OpenLoopRate, setup: modelOperations},
		apiMix{name: "generate_requests", rate: cfg.Inference.Rate, setup: inferRequests(false)},
		apiMix{name: "chat_requests", rate: cfg.Inference.Rate, setup: inferRequests(true)},
	)
	return out
}

// nodeOperations: list nodes (weight 8), get one node (8), and a drain +
// undrain cycle of one node (1, two writes through Raft). Every node is
// undrained afterwards.
func nodeOperations(ctx context.Context, env *Env, c cluster.Cluster, conns int) ([]load.Operation, func(), error) {
	client := env.FastClient(conns)
	api := env.API(client)
	nodes := c.Nodes()
	if err := api.Undrain(ctx, nodes[0].API, nodes[0].ID); errors.Is(err, ErrUnsupported) {
		client.Close()
		return nil, nil, Skip("the target cannot drain nodes: %v", err)
	} else if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("probe undrain: %w", err)
	}
	var next atomic.Uint64
	pick := func() cluster.Node { return nodes[int(next.Add(1)-1)%len(nodes)] }
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, n := range nodes {
			if err := api.Undrain(cctx, nodes[0].API, n.ID); err != nil {
				env.Warn("cleanup: node %s may still be drained: %v", n.ID, err)
			}
		}
		client.Close()
	}
	list, err := api.Op("list", "nodes_list", func() (string, target.Vars) { return pick().API, target.Vars{} })
	if err != nil {
		client.Close()
		return nil, nil, Skip("%v", err)
	}
	get, err := api.Op("get", "node_get", func() (string, target.Vars) { n := pick(); return n.API, target.Vars{Name: n.ID} })
	if err != nil {
		client.Close()
		return nil, nil, Skip("%v", err)
	}
	list.Weight, get.Weight = 8, 8
	return []load.Operation{list, get,
		{Name: "drain_undrain", Weight: 1, Do: func(ctx context.Context) error {
			n := pick()
			if err := api.Drain(ctx, n.API, n.ID); err != nil {
				return err
			}
			return api.Undrain(ctx, n.API, n.ID)
		}},
	}, cleanup, nil
}

// modelOperations: list models (8), show one (8), and create a small model
// then delete it (1). Every model it created is gone afterwards.
func modelOperations(ctx context.Context, env *Env, c cluster.Cluster, conns int) ([]load.Operation, func(), error) {
	client := env.FastClient(conns)
	api := env.API(client)
	nodes := c.Nodes()
	keys := newKeySpace(env, 1<<30)
	shown := keys.prefix + "shown"
	if !api.Has("models_list") || !api.Has("model_get") {
		client.Close()
		return nil, nil, Skip("the %s profile has no models_list and model_get routes", env.Target.Name)
	}
	if err := api.CreateModel(ctx, nodes[0].API, shown, 4096); errors.Is(err, ErrUnsupported) {
		client.Close()
		return nil, nil, Skip("the target cannot create models: %v", err)
	} else if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("creating a model to show: %w", err)
	}
	var next atomic.Uint64
	pick := func() string { return nodes[int(next.Add(1)-1)%len(nodes)].API }
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := api.DeleteModel(cctx, nodes[0].API, shown); err != nil {
			env.Warn("cleanup: model %s: %v", shown, err)
		}
		client.Close()
	}
	list, _ := api.Op("list", "models_list", func() (string, target.Vars) { return pick(), target.Vars{} })
	show, _ := api.Op("show", "model_get", func() (string, target.Vars) { return pick(), target.Vars{Name: shown} })
	list.Weight, show.Weight = 8, 8
	return []load.Operation{list, show,
		{Name: "create_delete", Weight: 1, Do: func(ctx context.Context) error {
			base, name := pick(), keys.nextKey()
			if err := api.CreateModel(ctx, base, name, 4096); err != nil {
				return err
			}
			return api.DeleteModel(ctx, base, name)
		}},
	}, cleanup, nil
}

// inferRequests: non-streamed generate or chat requests (stream:false)
// through the target's inference routes; latency is the whole answer. An
// answer that is a placeholder or carries no generated text is an error
// of kind placeholder, not a success.
func inferRequests(chat bool) func(ctx context.Context, env *Env, c cluster.Cluster, conns int) ([]load.Operation, func(), error) {
	return func(ctx context.Context, env *Env, c cluster.Cluster, conns int) ([]load.Operation, func(), error) {
		if env.Target.Inference == nil {
			return nil, nil, Skip("the %s profile has no inference section", env.Target.Name)
		}
		ctl := env.FastClient(4)
		removeModel, err := ensureModel(ctx, env, env.API(ctl), c)
		if err != nil {
			ctl.Close()
			return nil, nil, err
		}
		t := inferTargetOf(env, chat)
		path, body := t.request(false)
		name := "generate"
		if chat {
			name = "chat"
		}
		client := env.FastClient(conns)
		nodes := bases(c)
		var next atomic.Uint64
		op := load.Operation{Name: name, Do: func(ctx context.Context) error {
			url := nodes[int(next.Add(1)-1)%len(nodes)] + path
			return client.Send(ctx, http.MethodPost, url, t.headers(), body, t.judgeWhole)
		}}
		return []load.Operation{op}, func() { removeModel(); client.Close(); ctl.Close() }, nil
	}
}

// requestEach is an operation that sends r to the nodes in turn.
func requestEach(name string, r *target.Request, client *load.FastClient, nodes []cluster.Node) load.Operation {
	var next atomic.Uint64
	return load.Operation{Name: name, Do: func(ctx context.Context) error {
		n := nodes[int(next.Add(1)-1)%len(nodes)]
		call, err := r.Render(n.API, target.Vars{Member: n.ID, Size: len(nodes)})
		if err != nil {
			return err
		}
		return client.Send(ctx, call.Method, call.URL, call.Headers, call.Body, judge2xx)
	}}
}
