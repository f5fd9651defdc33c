package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/target"
)

// ErrUnsupported: the target does not offer what a scenario needs (its
// profile has no such section or route, or the route answers 404 or 405).
// Scenarios turn it into a skip with the reason.
var ErrUnsupported = errors.New("the target does not serve this")

// API is a client of the families of requests the target profile spells
// beyond key-value operations and inference: its routes (the reference
// node's models, blobs, gossip broadcasts, runtime metrics, policy) and
// the status of its members.
type API struct {
	c *load.FastClient
	p *target.Profile
}

// NewAPI returns a client for control-plane calls of a scenario.
func NewAPI(c *load.FastClient, p *target.Profile) *API { return &API{c: c, p: p} }

// Has reports whether the profile names the route.
func (a *API) Has(route string) bool {
	_, ok := a.p.Routes[route]
	return ok
}

// missing is ErrUnsupported for a route the profile does not name.
func (a *API) missing(route string) error {
	return fmt.Errorf("%w: the %s profile has no route %s", ErrUnsupported, a.p.Name, route)
}

// Call sends the profile's route to the member at base; for a 2xx answer
// read (if not nil) gets the body. A non-2xx answer is a *load.StatusError,
// 404 and 405 without a JSON body ErrUnsupported (the route is not served).
func (a *API) Call(ctx context.Context, base, route string, v target.Vars, read func(body []byte) error) error {
	r, ok := a.p.Routes[route]
	if !ok {
		return a.missing(route)
	}
	call, err := r.Render(base, v)
	if err != nil {
		return err
	}
	err = a.c.Send(ctx, call.Method, call.URL, call.Headers, call.Body, func(code int, header func(string) string, body []byte) error {
		if code/100 != 2 {
			return load.StatusErrorOf(code, header, body)
		}
		if read != nil {
			return read(body)
		}
		return nil
	})
	return unsupported(route+" ("+r.Describe()+")", err)
}

// Render renders the profile's route for the member at base.
func (a *API) Render(route, base string, v target.Vars) (target.Call, error) {
	r, ok := a.p.Routes[route]
	if !ok {
		return target.Call{}, a.missing(route)
	}
	return r.Render(base, v)
}

// Get sends the route and decodes its JSON answer into v.
func (a *API) Get(ctx context.Context, base, route string, vars target.Vars, v any) error {
	return a.Call(ctx, base, route, vars, func(body []byte) error { return decodeJSON(route, body, v) })
}

// Op returns a load operation named name that sends the route to the
// member next returns, for the engine to repeat.
func (a *API) Op(name, route string, next func() (base string, v target.Vars)) (load.Operation, error) {
	r, ok := a.p.Routes[route]
	if !ok {
		return load.Operation{}, a.missing(route)
	}
	return load.Operation{Name: name, Do: func(ctx context.Context) error {
		base, v := next()
		call, err := r.Render(base, v)
		if err != nil {
			return err
		}
		return a.c.Send(ctx, call.Method, call.URL, call.Headers, call.Body, judge2xx)
	}}, nil
}

// judge2xx makes a non-2xx answer a StatusError.
func judge2xx(code int, header func(string) string, body []byte) error {
	if code/100 != 2 {
		return load.StatusErrorOf(code, header, body)
	}
	return nil
}

// decodeJSON decodes a target's answer into v, naming the route on failure.
func decodeJSON(route string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: undecodable answer: %v", route, err)
	}
	return nil
}

// unsupported turns 404/405 on a route into ErrUnsupported naming it. A
// 404 with a JSON body ({"error": "model ... not found"}) is the route
// answering about a missing resource, not a missing route, and stays as it is.
func unsupported(route string, err error) error {
	var se *load.StatusError
	if errors.As(err, &se) && (se.Code == http.StatusNotFound || se.Code == http.StatusMethodNotAllowed) &&
		!strings.HasPrefix(strings.TrimSpace(se.Body), "{") {
		return fmt.Errorf("%w: %s (HTTP %d)", ErrUnsupported, route, se.Code)
	}
	return err
}

// NodeMetrics is the part of the reference node's runtime metrics
// (routes.metrics) scenarios use.
type NodeMetrics struct {
	ID                string  `json:"id"`
	Goroutines        int     `json:"goroutines"`
	HeapAllocBytes    uint64  `json:"heap_alloc_bytes"`
	HeapLiveBytes     uint64  `json:"heap_live_bytes"`
	GCCycles          uint32  `json:"gc_cycles"`
	GCPauseTotalNs    uint64  `json:"gc_pause_total_ns"`
	InferenceInFlight int     `json:"inference_in_flight"`
	InferenceQueued   int     `json:"inference_queued"`
	InferenceSlots    int     `json:"inference_slots"`
	UptimeS           float64 `json:"uptime_s"`
	// PrefixHitTokens and PrefixMissTokens count the prompt tokens the
	// node's prefix cache held and did not (nil: it does not say).
	PrefixHitTokens  *int64 `json:"prefix_cache_hit_tokens"`
	PrefixMissTokens *int64 `json:"prefix_cache_miss_tokens"`
}

// Metrics reads a member's runtime metrics.
func (a *API) Metrics(ctx context.Context, base string) (NodeMetrics, error) {
	var m NodeMetrics
	err := a.Get(ctx, base, "metrics", target.Vars{}, &m)
	return m, err
}

// ModelInfo is a model as the reference node's registry describes it.
type ModelInfo struct {
	Name      string   `json:"name"`
	Digest    string   `json:"digest"`
	SizeBytes int64    `json:"size_bytes"`
	Replicas  []string `json:"replicas"`
}

// Model reads one model's registry entry.
func (a *API) Model(ctx context.Context, base, name string) (ModelInfo, error) {
	var m ModelInfo
	err := a.Get(ctx, base, "model_get", target.Vars{Name: name}, &m)
	return m, err
}

// CreateModel creates a deterministic synthetic model of size bytes
// through the member at base (inference.create_model).
func (a *API) CreateModel(ctx context.Context, base, name string, size int64) error {
	in := a.p.Inference
	if in == nil || in.CreateModel == nil {
		return fmt.Errorf("%w: the %s profile cannot create models (inference.create_model)", ErrUnsupported, a.p.Name)
	}
	body, _ := json.Marshal(map[string]any{"name": name, "size_bytes": size})
	call, err := in.CreateModel.Render(base, target.Vars{Name: name, Body: string(body)})
	if err != nil {
		return err
	}
	return unsupported("inference.create_model ("+in.CreateModel.Describe()+")",
		a.c.Send(ctx, call.Method, call.URL, call.Headers, call.Body, judge2xx))
}

// DeleteModel removes a model; a missing one is not an error.
func (a *API) DeleteModel(ctx context.Context, base, name string) error {
	in := a.p.Inference
	if in == nil || in.DeleteModel == nil {
		return nil
	}
	call, err := in.DeleteModel.Render(base, target.Vars{Name: name})
	if err != nil {
		return err
	}
	err = a.c.Send(ctx, call.Method, call.URL, call.Headers, call.Body, judge2xx)
	var se *load.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil
	}
	return err
}

// DownloadModel makes the member at base pull model name from its holders.
func (a *API) DownloadModel(ctx context.Context, base, name string) error {
	return a.Call(ctx, base, "model_download", target.Vars{Name: name}, nil)
}

// SetPolicy switches the inference scheduling policy of the member at base.
func (a *API) SetPolicy(ctx context.Context, base, policy string) error {
	body, _ := json.Marshal(map[string]string{"policy": policy})
	return a.Call(ctx, base, "policy_set", target.Vars{Body: string(body)}, nil)
}

// Drain takes a member out of inference scheduling; Undrain puts it back.
func (a *API) Drain(ctx context.Context, base, id string) error {
	return a.Call(ctx, base, "node_drain", target.Vars{Name: id}, nil)
}

// Undrain puts a drained member back.
func (a *API) Undrain(ctx context.Context, base, id string) error {
	return a.Call(ctx, base, "node_undrain", target.Vars{Name: id}, nil)
}

// observerOf returns the cluster's observer of its members' status, or
// ErrUnsupported when it has none.
func observerOf(c cluster.Cluster) (cluster.Observer, error) {
	o, ok := c.(cluster.Observer)
	if !ok {
		return nil, fmt.Errorf("%w: this cluster cannot tell who leads", ErrUnsupported)
	}
	return o, nil
}

// status asks member n its view; a profile without a status section is
// ErrUnsupported.
func status(ctx context.Context, c cluster.Cluster, n cluster.Node) (cluster.MemberStatus, error) {
	o, err := observerOf(c)
	if err != nil {
		return cluster.MemberStatus{}, err
	}
	st, err := o.Status(ctx, n)
	if errors.Is(err, cluster.ErrNoStatus) {
		return st, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return st, err
}

// leaderOf returns the member every member names as the leader.
func leaderOf(ctx context.Context, c cluster.Cluster) (cluster.Node, error) {
	o, err := observerOf(c)
	if err != nil {
		return cluster.Node{}, err
	}
	n, err := o.Leader(ctx)
	if errors.Is(err, cluster.ErrNoStatus) {
		return n, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return n, err
}

// maxTerm returns the highest Raft term any member reports; the
// difference over a scenario counts the elections held. ok is false when
// the profile reads no term.
func maxTerm(ctx context.Context, c cluster.Cluster) (term uint64, ok bool, err error) {
	for _, n := range c.Nodes() {
		st, err := status(ctx, c, n)
		if err != nil {
			return 0, false, err
		}
		if !st.HasTerm {
			return 0, false, nil
		}
		term = max(term, st.Term)
	}
	return term, true, nil
}

// bases returns the API URLs of the cluster's nodes.
func bases(c cluster.Cluster) []string {
	nodes := c.Nodes()
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.API
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
