package node

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// inferRequest is the body of Ollama's /api/generate and /api/chat (the
// fields odbench's simulation uses).
type inferRequest struct {
	Model    string        `json:"model"`
	Prompt   string        `json:"prompt,omitempty"`
	Messages []chatMessage `json:"messages,omitempty"`
	Stream   *bool         `json:"stream,omitempty"`
	Options  struct {
		NumPredict int `json:"num_predict,omitempty"`
	} `json:"options"`
}

type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// inferChunk is one NDJSON line of a response, with Ollama's fields.
type inferChunk struct {
	Model              string       `json:"model"`
	CreatedAt          string       `json:"created_at"`
	Response           *string      `json:"response,omitempty"`
	Message            *chatMessage `json:"message,omitempty"`
	Done               bool         `json:"done"`
	DoneReason         string       `json:"done_reason,omitempty"`
	TotalDuration      int64        `json:"total_duration,omitempty"`
	LoadDuration       int64        `json:"load_duration,omitempty"`
	PromptEvalCount    int          `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration int64        `json:"prompt_eval_duration,omitempty"`
	EvalCount          int          `json:"eval_count,omitempty"`
	EvalDuration       int64        `json:"eval_duration,omitempty"`
	ServedBy           string       `json:"served_by,omitempty"`
}

// headerLocal marks a request a node proxied to the node that serves it.
const headerLocal = "X-Odbench-Local"

// inferencer serves and schedules simulated inference.
type inferencer struct {
	n      *Node
	slots  chan struct{}
	queued atomic.Int64
	active atomic.Int64
	rr     atomic.Uint64

	prefix                   *prefixCache
	prefixHits, prefixMisses atomic.Int64 // prompt tokens

	mu          sync.Mutex
	cache       *list.List // model names, most recent first
	cacheIdx    map[string]*list.Element
	outstanding map[string]int // proxied requests per target node, from this node

	pol atomic.Value // string: the scheduling policy

	quit     chan struct{}
	stopOnce sync.Once
}

func (in *inferencer) policy() string     { return in.pol.Load().(string) }
func (in *inferencer) setPolicy(p string) { in.pol.Store(p) }

func newInferencer(n *Node) *inferencer {
	in := &inferencer{n: n, slots: make(chan struct{}, n.cfg.Slots), cache: list.New(), prefix: newPrefixCache(n.cfg.PrefixCacheTokens),
		cacheIdx: map[string]*list.Element{}, outstanding: map[string]int{}, quit: make(chan struct{})}
	in.setPolicy(n.cfg.Policy)
	return in
}

func (in *inferencer) stop()         { in.stopOnce.Do(func() { close(in.quit) }) }
func (in *inferencer) inFlight() int { return int(in.active.Load()) }

// touch marks model used and reports whether it was already loaded.
func (in *inferencer) touch(model string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if e, ok := in.cacheIdx[model]; ok {
		in.cache.MoveToFront(e)
		return true
	}
	in.cacheIdx[model] = in.cache.PushFront(model)
	for in.cache.Len() > in.n.cfg.ModelCache {
		last := in.cache.Back()
		delete(in.cacheIdx, last.Value.(string))
		in.cache.Remove(last)
	}
	return false
}

// handle serves an inference route of kind: Ollama's /api/generate and
// /api/chat (and their /api/v1 twins), or the OpenAI-compatible
// /v1/chat/completions and /v1/completions. The receiving node schedules
// the request onto a node holding the model and proxies it there.
func (in *inferencer) handle(kind apiKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			bodyError(w, err, "reading body: ")
			return
		}
		req, emit, err := parseInference(kind, body, w, in.n.cfg.ID)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "%v", err)
			return
		}
		if req.Model == "" {
			writeErr(w, http.StatusBadRequest, "model is required")
			return
		}
		if req.Options.NumPredict < 0 || req.Options.NumPredict > 100_000 {
			field := "options.num_predict"
			if kind == openaiChat || kind == openaiCompletions {
				field = "max_tokens (or max_completion_tokens)"
			}
			writeErr(w, http.StatusBadRequest, "%s: the number of tokens to generate must be between 0 and 100000", field)
			return
		}
		m, ok := in.n.modelSynced(r.Context(), req.Model)
		if !ok {
			writeErr(w, http.StatusNotFound, "model %q not found, try pulling it first", req.Model)
			return
		}
		if r.Header.Get(headerLocal) != "" {
			in.serve(w, r, req, emit)
			return
		}
		target, ok := in.pick(m.Replicas, promptTokens(req))
		if !ok {
			w.Header().Set("Retry-After", "1")
			writeErr(w, http.StatusServiceUnavailable, "no undrained, alive node holds model %q", req.Model)
			return
		}
		if target.ID == in.n.cfg.ID {
			in.n.metrics.inferRequests.WithLabelValues("local").Inc()
			in.serve(w, r, req, emit)
			return
		}
		in.n.metrics.inferRequests.WithLabelValues("proxied").Inc()
		in.proxy(w, r, target, body)
	}
}

// pick chooses the serving node among the replicas by policy; toks is the
// request's prompt, which prefix_affinity routes by.
func (in *inferencer) pick(replicas []string, toks []string) (NodeRecord, bool) {
	alive := map[string]memberInfo{}
	for _, m := range in.n.members() {
		if m.State == "alive" {
			alive[m.ID] = m
		}
	}
	var cands []NodeRecord
	for _, id := range replicas {
		m, up := alive[id]
		if !up {
			continue
		}
		rec, ok := in.n.fsm.Node(id)
		if !ok {
			// Not in the Raft registry yet (a node registers itself once
			// joined); gossip metadata has its API and drain state.
			rec = NodeRecord{ID: id, API: m.Meta.API, Drained: m.Meta.Drained}
		}
		if !rec.Drained && rec.API != "" {
			cands = append(cands, rec)
		}
	}
	if len(cands) == 0 {
		return NodeRecord{}, false
	}
	switch in.policy() {
	case "prefix_affinity":
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.ID
		}
		return cands[rendezvous(affinityKey(toks), ids)], true
	case "random":
		return cands[rand.IntN(len(cands))], true
	case "least_connections":
		in.mu.Lock()
		defer in.mu.Unlock()
		start := int(in.rr.Add(1))
		best, bestLoad := -1, 0
		for k := range cands {
			i := (start + k) % len(cands)
			load := in.outstanding[cands[i].ID]
			if cands[i].ID == in.n.cfg.ID {
				load = int(in.active.Load() + in.queued.Load())
			}
			if best < 0 || load < bestLoad {
				best, bestLoad = i, load
			}
		}
		return cands[best], true
	}
	if in.n.cfg.StuckRoundRobin {
		return cands[0], true // debug: a round robin whose counter never moves
	}
	return cands[int(in.rr.Add(1)-1)%len(cands)], true
}

// proxy forwards the request to target and streams its answer back.
func (in *inferencer) proxy(w http.ResponseWriter, r *http.Request, target NodeRecord, body []byte) {
	in.mu.Lock()
	in.outstanding[target.ID]++
	in.mu.Unlock()
	defer func() {
		in.mu.Lock()
		in.outstanding[target.ID]--
		in.mu.Unlock()
	}()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, target.API+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "%v", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerLocal, in.n.cfg.ID)
	resp, err := in.n.client.Do(req)
	if err != nil {
		writeErr(w, http.StatusBadGateway, "proxy to %s: %v", target.ID, err)
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "X-Served-By", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("X-Scheduled-By", in.n.cfg.ID)
	w.WriteHeader(resp.StatusCode)
	fl, _ := w.(http.Flusher)
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := w.Write(line); werr != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

var words = strings.Fields("the quick brown fox jumps over a lazy dog while distributed nodes agree on every token they emit")

// serve runs one simulated inference on this node: a slot, model load time
// when not cached, prompt time, then one token per token delay, each
// written as it is "generated" in the request's wire format.
func (in *inferencer) serve(w http.ResponseWriter, r *http.Request, req inferRequest, emit emitter) {
	ctx := r.Context()
	start := time.Now()
	in.queued.Add(1)
	select {
	case in.slots <- struct{}{}:
		in.queued.Add(-1)
	case <-ctx.Done():
		in.queued.Add(-1)
		return
	case <-in.quit:
		in.queued.Add(-1)
		writeErr(w, http.StatusServiceUnavailable, "node shutting down")
		return
	}
	in.active.Add(1)
	defer func() {
		in.active.Add(-1)
		<-in.slots
	}()

	m, _ := in.n.fsm.Model(req.Model)
	var loadDur time.Duration
	if in.touch(req.Model) {
		in.n.metrics.cacheHits.Inc()
	} else {
		in.n.metrics.cacheMisses.Inc()
		loadDur = 50*time.Millisecond + time.Duration(float64(in.n.cfg.ModelLoadPerGB)*float64(m.SizeBytes)/float64(1<<30))
	}
	// Prefill covers the prompt tokens the prefix cache does not hold.
	toks := promptTokens(req)
	cached := in.prefix.lookup(blockHashes(toks))
	in.prefixHits.Add(int64(cached))
	in.prefixMisses.Add(int64(len(toks) - cached))
	in.n.metrics.prefixHitTokens.Add(float64(cached))
	in.n.metrics.prefixMissTokens.Add(float64(len(toks) - cached))
	promptDur := time.Duration(len(toks)-cached) * in.n.cfg.PromptTokenDelay
	if !sleepCtx(ctx, in.quit, loadDur+promptDur) {
		return
	}
	numPredict := req.Options.NumPredict
	if numPredict == 0 {
		numPredict = in.n.cfg.DefaultNumPredict
	}
	w.Header().Set("X-Served-By", in.n.cfg.ID)
	w.Header().Set("X-Odbench-Simulated", "true") // its timing is the flags', not a model's
	emit.header(w)
	var full strings.Builder
	evalStart := time.Now()
	for i := 0; i < numPredict; i++ {
		// Each token is due at a fixed time from the start, so timer slack does not accumulate.
		if !sleepUntil(ctx, in.quit, evalStart.Add(time.Duration(i+1)*in.n.cfg.TokenDelay)) {
			return
		}
		tok := words[i%len(words)] + " "
		in.n.metrics.tokens.Inc()
		full.WriteString(tok)
		if emit.token(tok) != nil {
			return
		}
	}
	end := time.Now()
	_ = emit.finish(genStats{start: start, evalStart: evalStart, end: end, load: loadDur, prompt: promptDur,
		promptTokens: len(toks), cachedTokens: cached, tokens: numPredict, text: full.String()})
	in.n.metrics.inferDuration.Observe(end.Sub(start).Seconds())
}

func sleepCtx(ctx context.Context, quit <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	return sleepUntil(ctx, quit, time.Now().Add(d))
}

func sleepUntil(ctx context.Context, quit <-chan struct{}, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-quit:
		return false
	}
}
