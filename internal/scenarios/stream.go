package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
)

// inferenceModelBytes is the size of the synthetic model inference
// scenarios create (its load time scales with size; 1 MiB keeps set-up
// short while every request still pays the node's load time when uncached).
const inferenceModelBytes = 1 << 20

// ensureModel makes the model exist on every node (created on the first,
// pulled by the others) and returns a cleanup that deletes it.
func ensureModel(ctx context.Context, env *Env, api *API, c cluster.Cluster) (func(), error) {
	name := env.Config.Inference.Model
	nodes := bases(c)
	err := api.CreateModel(ctx, nodes[0], name, inferenceModelBytes)
	var se *load.StatusError
	switch {
	case errors.Is(err, ErrUnsupported):
		// A plain Ollama or OpenAI-compatible server: it serves the models
		// it has, and inference.model must name one of them.
		return func() {}, nil
	case errors.As(err, &se) && se.Code == http.StatusConflict:
		// It exists (left by an earlier run, or by a scenario that failed to
		// clean up): reuse it, after checking that it really does.
		if _, err := api.Model(ctx, nodes[0], name); err != nil {
			return nil, fmt.Errorf("model %s was said to exist but cannot be read: %w", name, err)
		}
	case err != nil:
		return nil, fmt.Errorf("creating model %s: %w", name, err)
	}
	cleanup := func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := api.DeleteModel(cctx, nodes[0], name); err != nil {
			env.Warn("cleanup: model %s could not be deleted: %v", name, err)
		}
	}
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, b := range nodes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = api.DownloadModel(ctx, b, name)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		cleanup()
		return nil, fmt.Errorf("replicating model %s: %w", name, err)
	}
	return cleanup, nil
}

// withModel opens a small control client of the node API and makes sure
// the inference model exists on every node; done deletes the model and
// closes the client.
func withModel(ctx context.Context, env *Env, c cluster.Cluster) (api *API, done func(), err error) {
	ctl := env.FastClient(4)
	api = env.API(ctl)
	cleanup, err := ensureModel(ctx, env, api, c)
	if err != nil {
		ctl.Close()
		return nil, nil, err
	}
	return api, func() {
		// Idle connections first: one to a node killed and restarted in the
		// meantime is dead, and the delete would fail on it.
		ctl.Close()
		cleanup()
		ctl.Close()
	}, nil
}

// inferStats collects per-request measurements that the load engine does
// not see: TTFT, TPOT, inter-token gaps, Ollama's load and prompt times,
// tokens, the serving node, and per-node end-to-end latency. Requests that
// started before the engine's measured window (warm-up) are not recorded,
// like the engine's own; counts (tokens, goodput) are of the answers that
// ended inside the window. An answer that came in one piece yields no
// TTFT, TPOT or ITL, and one without a token count no TPOT: they are
// reported absent, never computed as if streamed.
type inferStats struct {
	rec     *metrics.Recorder
	perNode *metrics.Recorder
	seq     atomic.Uint64
	sloTTFT time.Duration
	sloTPOT time.Duration

	mu         sync.Mutex
	servedBy   map[string]int64
	answers    int64 // answers read inside the window
	streamed   int64 // of which came in more than one piece
	counted    int64 // of which had a token count from the server
	tokens     int64 // tokens of those answers
	chunkCount int64 // content chunks of answers without a count
	good       int64
	// prompt tokens of the answers whose server counted them, and of
	// those the tokens its prefix cache held, when it said.
	prompt, promptCounted, cached, cachedCounted int64
	// simulated: an answer said its timing is simulated (the reference
	// node's X-Odbench-Simulated).
	simulated bool
	// faults, in a fault scenario, splits goodput by window: goodBy counts
	// the good answers of the requests sent in each.
	faults *faultWindows
	goodBy map[string]int64
}

func newInferStats(sloTTFT, sloTPOT time.Duration, workers int) *inferStats {
	return &inferStats{rec: metrics.NewRecorder(workers, false), perNode: metrics.NewRecorder(workers, false),
		sloTTFT: sloTTFT, sloTPOT: sloTPOT, servedBy: map[string]int64{}, goodBy: map[string]int64{}}
}

// requestOp names the inference request operation; its phases (ttft,
// tpot, itl, load, prompt_eval) and per-node breakdowns (e2e@n1) name it
// as what they are part of.
const requestOp = "e2e"

// generateOp streams one inference request of workload w per call to the
// entry nodes in turn and measures its phases.
func generateOp(name string, client *http.Client, entries []string, t inferTarget, st *inferStats, w *workload) load.Operation {
	var next atomic.Uint64
	return load.Operation{Name: name, Do: func(ctx context.Context) (err error) {
		start := time.Now()
		if it, ok := load.IntendedStart(ctx); ok {
			start = it // phases are measured from the intended start, like the engine's latency
		}
		r := w.nextReq(time.Now())
		body := t.body(r, true)
		var text string
		defer func() { w.finished(r, text, err == nil, time.Now()) }()
		url := entries[int(next.Add(1)-1)%len(entries)] + t.path
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if t.apiKey != "" {
			req.Header.Set("Authorization", "Bearer "+t.apiKey)
		}
		return load.Do(client, req, func(resp *http.Response) error {
			var a answer
			var err error
			if t.api == "openai" {
				a, err = readSSE(resp.Body)
			} else {
				a, err = readNDJSON(resp.Body)
			}
			if err != nil {
				return err
			}
			if err := t.judgeStreamed(a); err != nil {
				return err
			}
			text = string(a.text)
			if node := resp.Header.Get("X-Served-By"); node != "" {
				a.node = node
			}
			if resp.Header.Get("X-Odbench-Simulated") == "true" {
				st.markSimulated()
			}
			// A warm-up request's latencies are not recorded, like the
			// engine's; its tokens count if it ended inside the window,
			// as the engine counts it in requests/s.
			from, ok := load.MeasureStart(ctx)
			st.record(ctx, a, start, ok && start.Before(from))
			return nil
		})
	}}
}

// record adds one answer's measurements: of a warm-up request (warm),
// only the counts of an answer that ended inside the window.
func (s *inferStats) record(ctx context.Context, a answer, start time.Time, warm bool) {
	shard := int(s.seq.Add(1))
	streamed := a.chunks >= 2
	e2e := a.last.Sub(start)
	ttft := a.first.Sub(start)
	var tpot time.Duration
	if streamed && a.tokensKnown && a.tokens > 1 {
		tpot = (e2e - ttft) / time.Duration(a.tokens-1)
	}
	from, to, windowed := load.Window(ctx)
	inWindow := !windowed || (!a.last.Before(from) && a.last.Before(to))
	good := streamed && ttft <= s.sloTTFT && (!a.tokensKnown || a.tokens < 2 || tpot <= s.sloTPOT)
	if !warm {
		s.recordLatencies(a, shard, streamed, e2e, ttft, tpot)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.node != "" && !warm {
		s.servedBy[a.node]++
	}
	if s.faults != nil && good && !warm {
		s.goodBy[s.faults.window(start, a.last)]++ // in the window its request is counted in
	}
	if !inWindow {
		return
	}
	s.answers++
	if streamed {
		s.streamed++
	}
	if a.promptKnown {
		s.promptCounted++
		s.prompt += int64(a.prompt)
	}
	if a.cachedKnown {
		s.cachedCounted++
		s.cached += int64(a.cached)
	}
	if a.tokensKnown {
		s.counted++
		s.tokens += int64(a.tokens)
	} else {
		s.chunkCount += int64(a.chunks)
	}
	if good {
		s.good++
	}
}

// recordLatencies records one measured answer's phases.
func (s *inferStats) recordLatencies(a answer, shard int, streamed bool, e2e, ttft, tpot time.Duration) {
	if streamed {
		s.rec.Op("ttft").Shard(shard).Record(ttft.Nanoseconds())
		for _, g := range a.gaps {
			s.rec.Op("itl").Shard(shard).Record(g.Nanoseconds())
		}
		if a.tokensKnown && a.tokens > 1 {
			s.rec.Op("tpot").Shard(shard).Record(tpot.Nanoseconds())
		}
	}
	if a.load != nil {
		s.rec.Op("load").Shard(shard).Record(a.load.Nanoseconds())
	}
	if a.promptEval != nil {
		s.rec.Op("prompt_eval").Shard(shard).Record(a.promptEval.Nanoseconds())
	}
	if a.node != "" {
		s.perNode.Op("e2e@" + a.node).Shard(shard).Record(e2e.Nanoseconds())
	}
}

// finish adds the phase histograms and the per-request scalars to env,
// and says what could not be measured and why.
func (s *inferStats) finish(env *Env, res *load.Result) {
	measured := res.Measured()
	s.rec.Tick(res.MeasureEnd)
	var phases []metrics.Operation
	for _, op := range s.rec.Ops() {
		snap := op.Snapshot(measured)
		snap.PhaseOf = requestOp
		phases = append(phases, snap)
	}
	env.AddOperations(phases...)
	for _, op := range res.Operations() {
		env.Scalar("requests_per_s", op.ThroughputOpsPerSec, "requests/s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	secs := measured.Seconds()
	if s.answers == 0 {
		env.Absent("output_tokens_per_s", "tokens/s", "no answer ended inside the measured window")
		env.Absent("goodput_rps", "requests/s", "no answer ended inside the measured window")
		return
	}
	unstreamed := s.answers - s.streamed
	switch {
	case s.streamed == 0:
		why := "the target answered in one piece (no streaming): there is no time to a first token or between tokens to measure"
		env.Absent("ttft", "ms", why)
		env.Absent("tpot", "ms", why)
		env.Absent("itl", "ms", why)
		env.Absent("goodput_rps", "requests/s", why+", so no TTFT to judge against inference.slo_ttft")
	case unstreamed > 0:
		env.Warn("%d of %d answers came in one piece: TTFT, TPOT and ITL count only the %d streamed ones", unstreamed, s.answers, s.streamed)
	}
	if s.streamed > 0 {
		env.Scalar("goodput_rps", float64(s.good)/secs, "requests/s")
	}
	if s.simulated {
		env.Warn("simulated inference: the reference node's timing follows its flags (--token-delay, --prompt-token-delay, --slots, its prefix cache), not a model")
	}
	if s.promptCounted > 0 {
		env.Scalar("input_tokens_per_request", float64(s.prompt)/float64(s.promptCounted), "tokens")
	} else {
		env.Absent("input_tokens_per_request", "tokens", "the target reported no prompt token counts (Ollama's prompt_eval_count, OpenAI's usage.prompt_tokens)")
	}
	if s.cachedCounted > 0 && s.prompt > 0 {
		env.Scalar("prefix_cache_hit_percent", 100*float64(s.cached)/float64(s.prompt), "%")
	}
	switch {
	case s.counted == s.answers:
		env.Scalar("output_tokens_per_s", float64(s.tokens)/secs, "tokens/s")
	case s.counted == 0 && env.Config.Inference.API == "openai":
		env.Scalar("output_tokens_per_s", float64(s.chunkCount)/secs, "tokens/s")
		env.Absent("tpot", "ms", "the server sent no usage (stream_options.include_usage): no token count to divide by")
		env.Warn("the server sent no usage: output tokens are counted content chunks, one token each, which a server that sends several tokens per chunk undercounts")
	case s.counted == 0:
		env.Absent("output_tokens_per_s", "tokens/s", "the target reported no token counts (Ollama's eval_count)")
		env.Absent("tpot", "ms", "the target reported no token counts (Ollama's eval_count)")
	default:
		env.Scalar("output_tokens_per_s", float64(s.tokens)/secs, "tokens/s")
		env.Warn("%d of %d answers had no token count: tokens/s counts only the others", s.answers-s.counted, s.answers)
	}
}

// nodeShares returns each serving node's share of requests, sorted by node.
func (s *inferStats) nodeShares() (ids []string, counts []float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.servedBy {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		counts = append(counts, float64(s.servedBy[id]))
	}
	return ids, counts
}

func (s *inferStats) markSimulated() {
	s.mu.Lock()
	s.simulated = true
	s.mu.Unlock()
}

func (s *inferStats) markedSimulated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.simulated
}
