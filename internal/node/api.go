package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/odbench/odbench/internal/pace"
)

// Version is the node API's version string.
const Version = "odbench-node/1"

const (
	maxBody        = 8 << 20 // request bodies
	requestTimeout = 30 * time.Second
	inferTimeout   = 10 * time.Minute
)

var fixedTime time.Time // zero: no Last-Modified on blobs

// buildName names the binary serving: its module version and VCS revision
// when the toolchain stamped them.
func buildName() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	name := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			name += " " + s.Value
		}
	}
	return strings.TrimSpace(name)
}

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn http.HandlerFunc) { mux.HandleFunc(pattern, fn) }

	h("GET /api/v1/health", n.health)
	h("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": Version, "build": buildName(), "go": runtime.Version()})
	})
	h("GET /api/v1/cluster/status", n.clusterStatus)
	h("GET /api/v1/cluster/leader", n.clusterLeader)
	h("POST /api/v1/cluster/join", n.clusterJoin)
	h("POST /api/v1/cluster/leave", n.clusterLeave)
	h("GET /api/v1/nodes", n.nodesList)
	h("GET /api/v1/nodes/{id}", n.nodeGet)
	h("POST /api/v1/nodes/{id}/drain", n.nodeDrain(true))
	h("POST /api/v1/nodes/{id}/undrain", n.nodeDrain(false))
	h("GET /api/v1/metrics", n.metricsJSON)
	mux.Handle("GET /metrics", n.metrics.handler())

	h("PUT /api/v1/kv/{key}", n.kvPut)
	h("GET /api/v1/kv/{key}", n.kvGet)
	h("DELETE /api/v1/kv/{key}", n.kvDelete)
	h("POST /api/v1/kv/{key}/cas", n.kvCAS)
	h("POST /api/v1/internal/apply", n.internalApply)
	h("GET /api/v1/internal/read-index", n.internalReadIndex)

	h("GET /api/v1/models", n.modelsList)
	h("GET /api/v1/models/{name}", n.modelGet)
	h("POST /api/v1/models", n.modelCreate)
	h("POST /api/v1/models/{name}/download", n.modelDownload)
	h("DELETE /api/v1/models/{name}", n.modelDelete)
	h("GET /api/v1/blobs/{digest}", n.blobGet)

	h("POST /api/v1/p2p/broadcast", n.p2pBroadcast)
	h("GET /api/v1/p2p/messages/{id}", n.p2pMessage)
	h("GET /api/v1/p2p/locate/{digest}", n.p2pLocate)

	h("GET /api/v1/admin/faults", n.faultsGet)
	h("POST /api/v1/admin/faults", n.faultsSet)
	h("DELETE /api/v1/admin/faults", n.faultsClear)
	h("GET /api/v1/admin/policy", n.policyGet)
	h("POST /api/v1/admin/policy", n.policySet)

	h("POST /api/generate", n.infer.handle(false))
	h("POST /api/chat", n.infer.handle(true))
	h("POST /api/v1/generate", n.infer.handle(false))
	h("POST /api/v1/chat", n.infer.handle(true))
	h("GET /api/tags", n.tags)
	h("POST /api/pull", n.pull)

	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return n.middleware(mux)
}

// middleware bounds every request (body size, time), turns panics into
// 500s, and applies the debug knobs.
func (n *Node) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				n.log.Error("handler panic", "path", r.URL.Path, "panic", p)
				writeErr(w, http.StatusInternalServerError, "internal error")
			}
		}()
		timeout := requestTimeout
		if strings.HasSuffix(r.URL.Path, "/generate") || strings.HasSuffix(r.URL.Path, "/chat") ||
			strings.HasSuffix(r.URL.Path, "/download") || r.URL.Path == "/api/pull" || strings.HasPrefix(r.URL.Path, "/debug/pprof/") ||
			strings.HasPrefix(r.URL.Path, "/api/v1/blobs/") {
			timeout = inferTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		if n.faults.hang != "" && r.URL.Path == n.faults.hang {
			<-ctx.Done() // debug: this endpoint hangs until the request or the node ends
			return
		}
		if d := n.cfg.ExtraLatency; d > 0 && strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/v1/internal/") {
			// A precise wait: time.Sleep(100µs) lasts about 1 ms on Linux,
			// which would plant ten times the slowdown asked for. No spin at
			// the end (Margin 0): under load it would take CPU from the node.
			s := pace.NewSleeper()
			s.Margin = 0
			s.Sleep(d)
			s.Close()
		}
		n.requests.Add(1)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code >= 500 {
			n.serverErrors.Add(1)
		}
	})
}

// statusWriter remembers the status code, for the error counter; it
// passes Flush through for streamed answers.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// decode reads a JSON body into v, answering 400 on failure.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, http.StatusRequestEntityTooLarge, "request body over %d bytes", mbe.Limit)
			return false
		}
		writeErr(w, http.StatusBadRequest, "malformed JSON: %v", err)
		return false
	}
	return true
}

// writeApplyErr answers a failed write.
func writeApplyErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNoLeader):
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "no raft leader; retry shortly")
	case errors.Is(err, ErrCASConflict):
		writeErr(w, http.StatusConflict, "%v", err)
	default:
		writeErr(w, http.StatusInternalServerError, "%v", err)
	}
}

// apply commits cmd through Raft: on the leader directly, elsewhere by
// forwarding the command to the leader's API.
func (n *Node) apply(ctx context.Context, cmd Command) (ApplyResult, error) {
	if n.isLeader() {
		return n.applyLocal(cmd)
	}
	_, api, ok := n.leaderAPI()
	if !ok {
		return ApplyResult{}, errNoLeader
	}
	body, _ := json.Marshal(cmd)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v1/internal/apply", bytes.NewReader(body))
	if err != nil {
		return ApplyResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-By", n.cfg.ID)
	resp, err := n.client.Do(req)
	if err != nil {
		return ApplyResult{}, errNoLeader // the leader we knew is gone
	}
	defer resp.Body.Close()
	var out applyResponse
	_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out)
	switch resp.StatusCode {
	case http.StatusOK:
		return ApplyResult{Version: out.Version}, nil
	case http.StatusConflict:
		return ApplyResult{Version: out.Version}, ErrCASConflict
	case http.StatusServiceUnavailable:
		return ApplyResult{}, errNoLeader
	}
	return ApplyResult{}, fmt.Errorf("leader answered HTTP %d: %s", resp.StatusCode, out.Error)
}

type applyResponse struct {
	Version uint64 `json:"version"`
	Error   string `json:"error,omitempty"`
}

func (n *Node) internalApply(w http.ResponseWriter, r *http.Request) {
	var cmd Command
	if !decode(w, r, &cmd) {
		return
	}
	if !n.isLeader() {
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "not the leader")
		return
	}
	res, err := n.applyLocal(cmd)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, applyResponse{Version: res.Version})
	case errors.Is(err, ErrCASConflict):
		writeJSON(w, http.StatusConflict, applyResponse{Version: res.Version, Error: err.Error()})
	default:
		writeApplyErr(w, err)
	}
}

// internalReadIndex answers a follower's catchUp: the leader's commit
// index, once leadership is verified.
func (n *Node) internalReadIndex(w http.ResponseWriter, r *http.Request) {
	if !n.isLeader() {
		writeApplyErr(w, errNoLeader)
		return
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		writeApplyErr(w, errNoLeader)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

// modelSynced returns a model's registry entry; when this node does not
// know it yet, it catches up with the leader first, so a model created
// through another node a moment ago is found.
func (n *Node) modelSynced(ctx context.Context, name string) (ModelInfo, bool) {
	if m, ok := n.fsm.Model(name); ok {
		return m, true
	}
	if err := n.catchUp(ctx); err != nil {
		n.log.Warn("catching up with the leader to look up a model", "model", name, "err", err)
		return ModelInfo{}, false
	}
	return n.fsm.Model(name)
}

func (n *Node) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "id": n.cfg.ID, "uptime_s": time.Since(n.started).Seconds()})
}

// ClusterStatus is the body of GET /api/v1/cluster/status.
type ClusterStatus struct {
	ID            string       `json:"id"`
	State         string       `json:"state"`
	IsLeader      bool         `json:"is_leader"`
	LeaderID      string       `json:"leader_id"`
	LeaderAPI     string       `json:"leader_api"`
	LeaderRaft    string       `json:"leader_raft"`
	Term          uint64       `json:"term"`
	CommitIndex   uint64       `json:"commit_index"`
	AppliedIndex  uint64       `json:"applied_index"`
	LastLogIndex  uint64       `json:"last_log_index"`
	LeaderChanges int64        `json:"leader_changes"`
	Peers         []Peer       `json:"peers"`
	Members       []memberInfo `json:"members"`
	Fsync         bool         `json:"fsync"`
	// Registered counts the nodes in the Raft node registry.
	Registered int `json:"registered"`
}

// Peer is a Raft voter.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
}

func (n *Node) clusterStatus(w http.ResponseWriter, r *http.Request) {
	stats := n.raft.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(stats[k], 10, 64); return v }
	st := ClusterStatus{ID: n.cfg.ID, State: n.raft.State().String(), IsLeader: n.isLeader(),
		Term: u("term"), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.fsm.AppliedIndex(), LastLogIndex: u("last_log_index"),
		LeaderChanges: n.leaderChanges.Load(), Members: n.members(), Fsync: n.cfg.Fsync, Registered: len(n.fsm.Nodes())}
	addr, _ := n.raft.LeaderWithID()
	st.LeaderRaft = string(addr)
	st.LeaderID, st.LeaderAPI, _ = n.leaderAPI()
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Peers = append(st.Peers, Peer{ID: string(s.ID), Address: string(s.Address), Suffrage: s.Suffrage.String()})
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (n *Node) clusterLeader(w http.ResponseWriter, r *http.Request) {
	id, api, ok := n.leaderAPI()
	if !ok {
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "no raft leader")
		return
	}
	addr, _ := n.raft.LeaderWithID()
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "api": api, "raft": string(addr)})
}

func (n *Node) clusterJoin(w http.ResponseWriter, r *http.Request) {
	var jr joinRequest
	if !decode(w, r, &jr) {
		return
	}
	if jr.ID == "" || jr.Raft == "" || jr.API == "" {
		writeErr(w, http.StatusBadRequest, "id, api and raft are required")
		return
	}
	if !n.isLeader() {
		n.forwardToLeader(w, r, jr)
		return
	}
	if err := n.raft.AddVoter(raft.ServerID(jr.ID), raft.ServerAddress(jr.Raft), 0, 10*time.Second).Error(); err != nil {
		writeApplyErr(w, errNoLeaderIf(err))
		return
	}
	if _, err := n.applyLocal(Command{Op: opNodeRegister, Node: &NodeRecord{ID: jr.ID, API: jr.API, Raft: jr.Raft, Gossip: jr.Gossip}}); err != nil {
		writeApplyErr(w, err)
		return
	}
	var gossip []string
	for _, m := range n.members() {
		gossip = append(gossip, m.Gossip)
	}
	writeJSON(w, http.StatusOK, joinResponse{Leader: n.cfg.ID, Gossip: gossip})
}

func errNoLeaderIf(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return errNoLeader
	}
	return err
}

// forwardToLeader re-sends a JSON request to the leader and relays its answer.
func (n *Node) forwardToLeader(w http.ResponseWriter, r *http.Request, body any) {
	b, _ := json.Marshal(body)
	n.relayToLeader(w, r, b)
}

// relayToLeader sends r (with body, if any) to the leader's API and
// relays the answer. A request another node already forwarded is not
// forwarded again: during an election that would bounce between nodes.
func (n *Node) relayToLeader(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("X-Forwarded-By") != "" {
		writeApplyErr(w, errNoLeader)
		return
	}
	_, api, ok := n.leaderAPI()
	if !ok {
		writeApplyErr(w, errNoLeader)
		return
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, api+r.URL.RequestURI(), rd)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-By", n.cfg.ID)
	resp, err := n.client.Do(req)
	if err != nil {
		writeApplyErr(w, errNoLeader)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "X-Version", "X-Served-By", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (n *Node) clusterLeave(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		writeErr(w, http.StatusBadRequest, "id is required")
		return
	}
	if !n.isLeader() {
		n.forwardToLeader(w, r, req)
		return
	}
	if err := n.raft.RemoveServer(raft.ServerID(req.ID), 0, 10*time.Second).Error(); err != nil {
		writeApplyErr(w, errNoLeaderIf(err))
		return
	}
	if _, err := n.applyLocal(Command{Op: opNodeRemove, NodeID: req.ID}); err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": req.ID})
}

// NodeView is one node as GET /api/v1/nodes shows it.
type NodeView struct {
	NodeRecord
	State    string   `json:"state"` // gossip state: alive, suspect, dead, left, unknown
	InFlight int      `json:"in_flight"`
	Models   []string `json:"models"`
	IsLeader bool     `json:"is_leader"`
}

func (n *Node) nodeViews() []NodeView {
	members := map[string]memberInfo{}
	for _, m := range n.members() {
		members[m.ID] = m
	}
	_, lid := n.raft.LeaderWithID()
	var out []NodeView
	for _, rec := range n.fsm.Nodes() {
		v := NodeView{NodeRecord: rec, State: "unknown", IsLeader: string(lid) == rec.ID, Models: []string{}}
		if m, ok := members[rec.ID]; ok {
			v.State, v.InFlight = m.State, m.Meta.InFlight
		}
		for _, mi := range n.fsm.Models() {
			if contains(mi.Replicas, rec.ID) {
				v.Models = append(v.Models, mi.Name)
			}
		}
		out = append(out, v)
	}
	return out
}

func (n *Node) nodesList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"nodes": n.nodeViews()})
}

func (n *Node) nodeGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, v := range n.nodeViews() {
		if v.ID == id {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	writeErr(w, http.StatusNotFound, "node %q not found", id)
}

func (n *Node) nodeDrain(drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, ok := n.fsm.Node(id); !ok {
			writeErr(w, http.StatusNotFound, "node %q not found", id)
			return
		}
		op := opUndrain
		if drain {
			op = opDrain
		}
		if _, err := n.apply(r.Context(), Command{Op: op, NodeID: id}); err != nil {
			writeApplyErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "drained": drain})
	}
}

// liveHeap reads the heap the last GC found live (runtime/metrics
// /gc/heap/live:bytes): unlike HeapAlloc it has no allocation sawtooth, so
// its trend over GC cycles is the leak signal.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func (n *Node) metricsJSON(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	writeJSON(w, http.StatusOK, map[string]any{
		"id": n.cfg.ID, "uptime_s": time.Since(n.started).Seconds(),
		"goroutines": runtime.NumGoroutine(), "heap_alloc_bytes": ms.HeapAlloc, "heap_inuse_bytes": ms.HeapInuse,
		"heap_live_bytes": liveHeap(),
		"sys_bytes":       ms.Sys, "gc_cycles": ms.NumGC, "gc_pause_total_ns": ms.PauseTotalNs,
		"raft_state": n.raft.State().String(), "raft_commit_index": n.raft.CommitIndex(), "raft_applied_index": n.fsm.AppliedIndex(),
		"raft_leader_changes": n.leaderChanges.Load(), "gossip_members": n.ml.NumMembers(),
		"inference_in_flight": n.infer.active.Load(), "inference_queued": n.infer.queued.Load(), "inference_slots": n.cfg.Slots,
		"kv_keys": n.fsm.KVCount(), "models_registered": len(n.fsm.Models()), "blobs_local_bytes": n.blobs.bytes(),
		"requests_total": n.requests.Load(), "server_errors_total": n.serverErrors.Load(),
	})
}

// KV

func (n *Node) kvPut(w http.ResponseWriter, r *http.Request) {
	n.metrics.kvOps.WithLabelValues("put").Inc()
	value, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, "value: %v", err)
		return
	}
	res, err := n.apply(r.Context(), Command{Op: opPut, Key: r.PathValue("key"), Value: value})
	if err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"version": res.Version})
}

func (n *Node) kvCAS(w http.ResponseWriter, r *http.Request) {
	n.metrics.kvOps.WithLabelValues("cas").Inc()
	expect, err := strconv.ParseUint(r.URL.Query().Get("expect_version"), 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "expect_version must be a whole number (0: the key must not exist)")
		return
	}
	value, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, http.StatusRequestEntityTooLarge, "value: %v", err)
		return
	}
	res, err := n.apply(r.Context(), Command{Op: opCAS, Key: r.PathValue("key"), Value: value, ExpectVersion: expect})
	if err != nil {
		if errors.Is(err, ErrCASConflict) {
			writeJSON(w, http.StatusConflict, map[string]any{"error": "version mismatch", "version": res.Version})
			return
		}
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"version": res.Version})
}

func (n *Node) kvDelete(w http.ResponseWriter, r *http.Request) {
	n.metrics.kvOps.WithLabelValues("delete").Inc()
	res, err := n.apply(r.Context(), Command{Op: opDelete, Key: r.PathValue("key")})
	if err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"version": res.Version})
}

// kvGet reads a key: linearizable by default (read index on the leader;
// followers forward), or ?consistency=stale from this node's FSM. The value
// is the body; its version is the X-Version header.
func (n *Node) kvGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	stale := r.URL.Query().Get("consistency") == "stale"
	n.metrics.kvOps.WithLabelValues(map[bool]string{true: "get_stale", false: "get"}[stale]).Inc()
	if !stale {
		if !n.isLeader() {
			n.relayToLeader(w, r, nil)
			return
		}
		if err := n.readIndex(r.Context()); err != nil {
			writeApplyErr(w, errNoLeaderIf(err))
			return
		}
	}
	e, ok := n.fsm.Get(key)
	if !ok {
		writeErr(w, http.StatusNotFound, "key %q not found", key)
		return
	}
	w.Header().Set("X-Version", strconv.FormatUint(e.Version, 10))
	w.Header().Set("X-Served-By", n.cfg.ID)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(e.Value)
}

// Models

func (n *Node) modelsList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"models": n.fsm.Models()})
}

func (n *Node) modelGet(w http.ResponseWriter, r *http.Request) {
	m, ok := n.modelSynced(r.Context(), r.PathValue("name"))
	if !ok {
		writeErr(w, http.StatusNotFound, "model %q not found", r.PathValue("name"))
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// maxModelBytes bounds synthetic models (64 GiB).
const maxModelBytes = 64 << 30

func (n *Node) modelCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string `json:"name"`
		SizeBytes int64  `json:"size_bytes"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Name == "" || strings.ContainsAny(req.Name, "/\\") || len(req.Name) > 200 {
		writeErr(w, http.StatusBadRequest, "name is required, at most 200 characters, without slashes")
		return
	}
	if req.SizeBytes < 1 || req.SizeBytes > maxModelBytes {
		writeErr(w, http.StatusBadRequest, "size_bytes must be from 1 to %d", int64(maxModelBytes))
		return
	}
	// Check against the latest committed registry, not this node's possibly
	// stale copy: a model deleted a moment ago through another node is gone.
	if err := n.catchUp(r.Context()); err != nil {
		writeApplyErr(w, errNoLeaderIf(err))
		return
	}
	if _, exists := n.fsm.Model(req.Name); exists {
		writeErr(w, http.StatusConflict, "model %q already exists", req.Name)
		return
	}
	began := time.Now()
	digest, err := n.blobs.create(req.Name, req.SizeBytes)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "creating blob: %v", err)
		return
	}
	info := &ModelInfo{Name: req.Name, Digest: digest, SizeBytes: req.SizeBytes}
	if _, err := n.apply(r.Context(), Command{Op: opModelAdd, Model: info, NodeID: n.cfg.ID}); err != nil {
		n.blobGC(digest)
		writeApplyErr(w, err)
		return
	}
	m, _ := n.modelSynced(r.Context(), req.Name)
	writeJSON(w, http.StatusCreated, map[string]any{"model": m, "create_ms": time.Since(began).Milliseconds()})
}

// pullModel makes this node hold model name: download from the holders and
// register the replica. It returns the bytes fetched (0 if already held).
func (n *Node) pullModel(ctx context.Context, name string, parallel int) (int64, error) {
	m, ok := n.modelSynced(ctx, name)
	if !ok {
		return 0, errModelNotFound
	}
	if contains(m.Replicas, n.cfg.ID) && n.blobs.has(m.Digest) {
		return 0, nil
	}
	var fetched int64
	if !n.blobs.has(m.Digest) {
		var sources []string
		for _, id := range m.Replicas {
			if rec, ok := n.fsm.Node(id); ok && id != n.cfg.ID {
				sources = append(sources, rec.API)
			}
		}
		var err error
		fetched, err = n.blobs.download(ctx, n.client, m.Digest, m.SizeBytes, sources, parallel)
		n.metrics.blobBytesPulled.Add(float64(fetched))
		if err != nil {
			return fetched, err
		}
	}
	_, err := n.apply(ctx, Command{Op: opModelAdd, Model: &ModelInfo{Name: m.Name, Digest: m.Digest, SizeBytes: m.SizeBytes}, NodeID: n.cfg.ID})
	return fetched, err
}

var errModelNotFound = errors.New("model not found")

func (n *Node) modelDownload(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	parallel := 4
	if p := r.URL.Query().Get("parallel"); p != "" {
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 || v > 64 {
			writeErr(w, http.StatusBadRequest, "parallel must be from 1 to 64")
			return
		}
		parallel = v
	}
	began := time.Now()
	fetched, err := n.pullModel(r.Context(), name, parallel)
	switch {
	case errors.Is(err, errModelNotFound):
		writeErr(w, http.StatusNotFound, "model %q not found", name)
	case errors.Is(err, ErrDigestMismatch):
		writeErr(w, http.StatusBadGateway, "rejected: %v", err)
	case err != nil:
		writeApplyErr(w, err)
	default:
		el := time.Since(began)
		writeJSON(w, http.StatusOK, map[string]any{"model": name, "node": n.cfg.ID, "bytes": fetched,
			"duration_ms": el.Milliseconds(), "bytes_per_s": float64(fetched) / el.Seconds()})
	}
}

func (n *Node) modelDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, ok := n.modelSynced(r.Context(), name); !ok {
		writeErr(w, http.StatusNotFound, "model %q not found", name)
		return
	}
	if _, err := n.apply(r.Context(), Command{Op: opModelDelete, Key: name}); err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

// blobGC deletes a local blob no model references on this node any more.
func (n *Node) blobGC(digest string) {
	if n.blobs.has(digest) && !n.fsm.DigestReferenced(digest, n.cfg.ID) {
		n.blobs.remove(digest)
	}
}

func (n *Node) blobGet(w http.ResponseWriter, r *http.Request) {
	d := r.PathValue("digest")
	if !validDigest(d) {
		writeErr(w, http.StatusBadRequest, "digest must be sha256: and 64 hex digits")
		return
	}
	n.blobs.serve(w, r, d, n.faults.corrupting())
}

// Ollama's model endpoints

func (n *Node) tags(w http.ResponseWriter, r *http.Request) {
	type tag struct {
		Name   string `json:"name"`
		Model  string `json:"model"`
		Size   int64  `json:"size"`
		Digest string `json:"digest"`
	}
	out := []tag{}
	for _, m := range n.fsm.Models() {
		out = append(out, tag{Name: m.Name, Model: m.Name, Size: m.SizeBytes, Digest: strings.TrimPrefix(m.Digest, "sha256:")})
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (n *Node) pull(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name   string `json:"name"`
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	if !decode(w, r, &req) {
		return
	}
	name := req.Model
	if name == "" {
		name = req.Name
	}
	if _, err := n.pullModel(r.Context(), name, 4); err != nil {
		if errors.Is(err, errModelNotFound) {
			writeErr(w, http.StatusNotFound, "pull model manifest: model %q not found in the cluster", name)
			return
		}
		writeErr(w, http.StatusInternalServerError, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "success"})
}

// P2P

func (n *Node) p2pBroadcast(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID           string `json:"id"`
		PayloadBytes int    `json:"payload_bytes"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.PayloadBytes < 0 || req.PayloadBytes > 1024 {
		writeErr(w, http.StatusBadRequest, "payload_bytes must be from 0 to 1024 (gossip packets are small)")
		return
	}
	if req.ID == "" {
		req.ID = fmt.Sprintf("%s-%d", n.cfg.ID, time.Now().UnixNano())
	}
	now := time.Now()
	msg, _ := json.Marshal(broadcastMsg{ID: req.ID, From: n.cfg.ID, SentAt: now.UnixNano(), Payload: make([]byte, req.PayloadBytes)})
	n.receipts.record(req.ID, now)
	n.bcast.QueueBroadcast(simpleBroadcast(msg))
	n.metrics.broadcastsSent.Inc()
	writeJSON(w, http.StatusOK, map[string]any{"id": req.ID, "sent_at_unix_ns": now.UnixNano()})
}

func (n *Node) p2pMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, ok := n.receipts.get(id)
	if !ok {
		writeErr(w, http.StatusNotFound, "message %q not received here", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "node": n.cfg.ID, "received_at_unix_ns": t.UnixNano()})
}

func (n *Node) p2pLocate(w http.ResponseWriter, r *http.Request) {
	d := r.PathValue("digest")
	if !validDigest(d) {
		writeErr(w, http.StatusBadRequest, "digest must be sha256: and 64 hex digits")
		return
	}
	type holder struct {
		ID  string `json:"id"`
		API string `json:"api"`
	}
	holders := []holder{}
	seen := map[string]bool{}
	for _, m := range n.fsm.Models() {
		if m.Digest != d {
			continue
		}
		for _, id := range m.Replicas {
			if rec, ok := n.fsm.Node(id); ok && !seen[id] {
				seen[id] = true
				holders = append(holders, holder{ID: id, API: rec.API})
			}
		}
	}
	if len(holders) == 0 {
		writeErr(w, http.StatusNotFound, "no node holds %s", d)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"digest": d, "holders": holders})
}

// Faults

// FaultRequest is the body of POST /api/v1/admin/faults: traffic to and
// from the named peers is dropped or delayed at this node's edge.
type FaultRequest struct {
	Drop         []string          `json:"drop"`
	Delay        map[string]string `json:"delay"` // node ID -> duration ("50ms")
	CorruptBlobs bool              `json:"corrupt_blobs"`
}

func (n *Node) faultsSet(w http.ResponseWriter, r *http.Request) {
	var req FaultRequest
	if !decode(w, r, &req) {
		return
	}
	addrs := n.peerAddrs()
	var drop []string
	var unknown []string
	for _, id := range req.Drop {
		a, ok := addrs[id]
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		drop = append(drop, a...)
	}
	delay := map[string]time.Duration{}
	for id, ds := range req.Delay {
		d, err := time.ParseDuration(ds)
		if err != nil || d < 0 || d > time.Minute {
			writeErr(w, http.StatusBadRequest, "delay for %q: want a duration from 0 to 1m, got %q", id, ds)
			return
		}
		a, ok := addrs[id]
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		for _, addr := range a {
			delay[addr] = d
		}
	}
	if len(unknown) > 0 {
		writeErr(w, http.StatusBadRequest, "unknown node IDs: %v", unknown)
		return
	}
	n.faults.set(drop, delay, req.CorruptBlobs)
	writeJSON(w, http.StatusOK, req)
}

// peerAddrs maps node IDs to their Raft and gossip addresses.
func (n *Node) peerAddrs() map[string][]string {
	out := map[string][]string{}
	for _, rec := range n.fsm.Nodes() {
		out[rec.ID] = append(out[rec.ID], rec.Raft, rec.Gossip, strings.TrimPrefix(rec.API, "http://"))
	}
	for _, m := range n.members() {
		out[m.ID] = append(out[m.ID], m.Gossip)
	}
	return out
}

func (n *Node) faultsGet(w http.ResponseWriter, r *http.Request) {
	n.faults.mu.RLock()
	defer n.faults.mu.RUnlock()
	drop := []string{}
	for a := range n.faults.drop {
		drop = append(drop, a)
	}
	writeJSON(w, http.StatusOK, map[string]any{"drop_addrs": drop, "corrupt_blobs": n.faults.corrupt})
}

func (n *Node) faultsClear(w http.ResponseWriter, r *http.Request) {
	n.faults.set(nil, nil, false)
	writeJSON(w, http.StatusOK, map[string]string{"status": "healed"})
}

func (n *Node) policyGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"policy": n.infer.policy()})
}

// policySet switches this node's inference scheduling policy at run time
// (each node schedules the requests it receives).
func (n *Node) policySet(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Policy string `json:"policy"`
	}
	if !decode(w, r, &req) {
		return
	}
	switch req.Policy {
	case "round_robin", "least_connections", "random":
	default:
		writeErr(w, http.StatusBadRequest, "policy must be round_robin, least_connections or random, not %q", req.Policy)
		return
	}
	n.infer.setPolicy(req.Policy)
	writeJSON(w, http.StatusOK, req)
}

// reconcile converges every model to the replication factor: each node
// pulls the models it is the deterministic choice for.
func (n *Node) reconcile(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rf := n.cfg.ReplicationFactor
		if rf <= 1 {
			continue
		}
		nodes := n.fsm.Nodes()
		for _, m := range n.fsm.Models() {
			if len(m.Replicas) >= rf || contains(m.Replicas, n.cfg.ID) {
				continue
			}
			need := rf - len(m.Replicas)
			var chosen []string
			for _, rec := range nodes {
				if !contains(m.Replicas, rec.ID) && !rec.Drained && len(chosen) < need {
					chosen = append(chosen, rec.ID)
				}
			}
			if contains(chosen, n.cfg.ID) {
				if _, err := n.pullModel(ctx, m.Name, 4); err != nil {
					n.log.Warn("replication pull", "model", m.Name, "err", err)
				}
			}
		}
	}
}
