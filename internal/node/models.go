// Models: the registry in Raft, blobs on disk pulled from holders in
// parallel ranges, Ollama's /api/tags and /api/pull, and the loop that
// converges every model to the replication factor.

package node

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Model names: a letter or digit, then letters, digits and . _ : - (an
// Ollama tag such as llama3:8b), 128 characters at most. No slashes and no
// "." or "..": a name is a path segment of the API, and one the router
// cleans could never be fetched or deleted.
var modelNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

const modelNameRule = "1 to 128 of A-Z a-z 0-9 . _ : -, beginning with a letter or digit"

func validModelName(name string) bool { return modelNamePattern.MatchString(name) }

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

func (n *Node) modelCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name      string `json:"name"`
		SizeBytes int64  `json:"size_bytes"`
	}
	if !decode(w, r, &req) {
		return
	}
	if !validModelName(req.Name) {
		writeErr(w, http.StatusBadRequest, "name: %s, not %.80q", modelNameRule, req.Name)
		return
	}
	if limit := n.cfg.maxModelBytes(); req.SizeBytes < 1 || req.SizeBytes > limit {
		writeErr(w, http.StatusBadRequest, "size_bytes must be from 1 to %d (the node's --max-model-mb)", limit)
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
	// Written while its client waits: one that leaves stops the writing,
	// and the half-written blob is removed.
	digest, err := n.blobs.create(r.Context(), req.Name, req.SizeBytes)
	if r.Context().Err() != nil {
		return // nobody to answer
	}
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

// errModelNotFound: no model of that name is registered.
var errModelNotFound = errors.New("model not found")
