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
)

// ErrUnsupported: the target does not serve a route a scenario needs
// (HTTP 404 or 405 on it). Scenarios turn it into a skip with the reason.
var ErrUnsupported = errors.New("the target does not serve this route")

// API is a typed client of the node API (ollama-distributed's /api/v1
// routes plus the reference node's benchmark routes).
type API struct{ c *load.FastClient }

// NewAPI returns a client for control-plane calls of a scenario.
func NewAPI(c *load.FastClient) *API { return &API{c: c} }

// ClusterStatus is the part of GET /api/v1/cluster/status scenarios use.
type ClusterStatus struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	IsLeader      bool   `json:"is_leader"`
	LeaderID      string `json:"leader_id"`
	LeaderAPI     string `json:"leader_api"`
	Term          uint64 `json:"term"`
	CommitIndex   uint64 `json:"commit_index"`
	AppliedIndex  uint64 `json:"applied_index"`
	LeaderChanges int64  `json:"leader_changes"`
	Peers         []struct {
		ID string `json:"id"`
	} `json:"peers"`
}

// NodeMetrics is the part of GET /api/v1/metrics scenarios use.
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
}

// decodeJSON decodes a node API answer into v, naming the route on failure.
func decodeJSON(route string, body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: undecodable answer: %v", route, err)
	}
	return nil
}

func (a *API) get(ctx context.Context, url, route string, v any) error {
	err := a.c.Do(ctx, http.MethodGet, url, nil, func(_ int, body []byte) error { return decodeJSON(route, body, v) })
	return unsupported(route, err)
}

func (a *API) send(ctx context.Context, method, url, route string, body []byte) error {
	if body == nil {
		body = []byte{}
	}
	return unsupported(route, a.c.Do(ctx, method, url, body, nil))
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

// Status reads a node's cluster status.
func (a *API) Status(ctx context.Context, base string) (ClusterStatus, error) {
	var st ClusterStatus
	err := a.get(ctx, base+"/api/v1/cluster/status", "GET /api/v1/cluster/status", &st)
	return st, err
}

// Metrics reads a node's JSON metrics.
func (a *API) Metrics(ctx context.Context, base string) (NodeMetrics, error) {
	var m NodeMetrics
	err := a.get(ctx, base+"/api/v1/metrics", "GET /api/v1/metrics", &m)
	return m, err
}

// MaxTerm returns the highest Raft term any of the nodes reports; the
// difference over a scenario counts the elections held.
func (a *API) MaxTerm(ctx context.Context, bases []string) (uint64, error) {
	var term uint64
	for _, b := range bases {
		st, err := a.Status(ctx, b)
		if err != nil {
			return 0, err
		}
		term = max(term, st.Term)
	}
	return term, nil
}

// LeaderAPI returns the API URL of the current leader, as the node at base sees it.
func (a *API) LeaderAPI(ctx context.Context, base string) (string, error) {
	st, err := a.Status(ctx, base)
	if err != nil {
		return "", err
	}
	if st.LeaderAPI == "" {
		return "", fmt.Errorf("%s knows no leader", base)
	}
	return st.LeaderAPI, nil
}

// CreateModel creates a deterministic synthetic model of size bytes on the node at base.
func (a *API) CreateModel(ctx context.Context, base, name string, size int64) error {
	body, _ := json.Marshal(map[string]any{"name": name, "size_bytes": size})
	return a.send(ctx, http.MethodPost, base+"/api/v1/models", "POST /api/v1/models", body)
}

// DownloadModel makes the node at base pull model name from its holders.
func (a *API) DownloadModel(ctx context.Context, base, name string) error {
	return a.send(ctx, http.MethodPost, base+"/api/v1/models/"+name+"/download", "POST /api/v1/models/{name}/download", nil)
}

// DeleteModel removes a model from the cluster; a missing one is not an error.
func (a *API) DeleteModel(ctx context.Context, base, name string) error {
	err := a.c.Do(ctx, http.MethodDelete, base+"/api/v1/models/"+name, nil, nil)
	var se *load.StatusError
	if errors.As(err, &se) && se.Code == http.StatusNotFound {
		return nil
	}
	return err
}

// SetPolicy switches the inference scheduling policy of the node at base.
func (a *API) SetPolicy(ctx context.Context, base, policy string) error {
	body, _ := json.Marshal(map[string]string{"policy": policy})
	return a.send(ctx, http.MethodPost, base+"/api/v1/admin/policy", "POST /api/v1/admin/policy", body)
}

// Drain and Undrain take a node out of and back into inference scheduling.
func (a *API) Drain(ctx context.Context, base, id string) error {
	return a.send(ctx, http.MethodPost, base+"/api/v1/nodes/"+id+"/drain", "POST /api/v1/nodes/{id}/drain", nil)
}

// Undrain puts a drained node back.
func (a *API) Undrain(ctx context.Context, base, id string) error {
	return a.send(ctx, http.MethodPost, base+"/api/v1/nodes/"+id+"/undrain", "POST /api/v1/nodes/{id}/undrain", nil)
}

// PutKV writes a key through Raft.
func (a *API) PutKV(ctx context.Context, base, key string, value []byte) error {
	return a.send(ctx, http.MethodPut, base+"/api/v1/kv/"+key, "PUT /api/v1/kv/{key}", value)
}

// DeleteKV deletes a key.
func (a *API) DeleteKV(ctx context.Context, base, key string) error {
	return a.send(ctx, http.MethodDelete, base+"/api/v1/kv/"+key, "DELETE /api/v1/kv/{key}", nil)
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

// ModelInfo is a model as GET /api/v1/models/{name} describes it.
type ModelInfo struct {
	Name      string   `json:"name"`
	Digest    string   `json:"digest"`
	SizeBytes int64    `json:"size_bytes"`
	Replicas  []string `json:"replicas"`
}

// Model reads one model's registry entry.
func (a *API) Model(ctx context.Context, base, name string) (ModelInfo, error) {
	var m ModelInfo
	err := a.get(ctx, base+"/api/v1/models/"+name, "GET /api/v1/models/{name}", &m)
	return m, err
}
