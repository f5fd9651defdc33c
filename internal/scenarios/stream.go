package scenarios

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		return nil, Skip("the target cannot create models (POST /api/v1/models); inference scenarios need one it can serve")
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

// inferStats collects per-request measurements that the load engine does
// not see: TTFT, TPOT, inter-token gaps, tokens, the serving node, and
// per-node end-to-end latency. Requests that started before the engine's
// measured window (warm-up) are not recorded, like the engine's own.
type inferStats struct {
	rec      *metrics.Recorder
	perNode  *metrics.Recorder
	seq      atomic.Uint64
	tokens   atomic.Int64
	good     atomic.Int64
	sloTTFT  time.Duration
	sloTPOT  time.Duration
	mu       sync.Mutex
	servedBy map[string]int64
}

func newInferStats(sloTTFT, sloTPOT time.Duration, workers int) *inferStats {
	s := &inferStats{rec: metrics.NewRecorder(workers, false), perNode: metrics.NewRecorder(workers, false),
		sloTTFT: sloTTFT, sloTPOT: sloTPOT, servedBy: map[string]int64{}}
	for _, name := range []string{"ttft", "tpot", "itl"} {
		s.rec.Op(name)
	}
	return s
}

// chunk is the part of an Ollama NDJSON line the measurement reads.
type chunk struct {
	Response string `json:"response"`
	Message  *struct {
		Content string `json:"content"`
	} `json:"message"`
	Done      bool   `json:"done"`
	EvalCount int    `json:"eval_count"`
	ServedBy  string `json:"served_by"`
	Error     string `json:"error"`
}

// decodeChunk parses one NDJSON line of a generate or chat stream.
func decodeChunk(line []byte) (chunk, error) {
	var c chunk
	if err := json.Unmarshal(line, &c); err != nil {
		return c, fmt.Errorf("undecodable stream line: %v", err)
	}
	if c.Error != "" {
		return c, fmt.Errorf("stream error: %s", c.Error)
	}
	return c, nil
}

// requestOp names the inference request operation; its phases (ttft,
// tpot, itl) and per-node breakdowns (e2e@n1) name it as what they are part of.
const requestOp = "e2e"

// generateOp streams one generate (or chat) request per call to the entry
// nodes in turn and measures its phases.
func generateOp(name string, client *http.Client, entries []string, chat bool, model, prompt string, numPredict int, st *inferStats) load.Operation {
	path := "/api/generate"
	body, _ := json.Marshal(map[string]any{"model": model, "prompt": prompt, "options": map[string]int{"num_predict": numPredict}})
	if chat {
		path = "/api/chat"
		body, _ = json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": prompt}},
			"options": map[string]int{"num_predict": numPredict}})
	}
	var next atomic.Uint64
	return load.Operation{Name: name, Do: func(ctx context.Context) error {
		start := time.Now()
		if t, ok := load.IntendedStart(ctx); ok {
			start = t // phases are measured from the intended start, like the engine's latency
		}
		url := entries[int(next.Add(1)-1)%len(entries)] + path
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		return load.Do(client, req, func(resp *http.Response) error {
			if from, ok := load.MeasureStart(ctx); ok && start.Before(from) {
				_, err := io.Copy(io.Discard, resp.Body) // warm-up: read it, record nothing
				return err
			}
			return st.read(ctx, resp, start)
		})
	}}
}

// read consumes one streamed answer and records its measurements. Tokens
// and goodput count the answers that ended inside the measured window, as
// the engine's throughput counts requests.
func (s *inferStats) read(ctx context.Context, resp *http.Response, start time.Time) error {
	br := bufio.NewReaderSize(resp.Body, 4096)
	var first, last time.Time
	var gaps []time.Duration
	var final chunk
	for {
		line, err := br.ReadBytes('\n')
		now := time.Now()
		if len(bytes.TrimSpace(line)) > 0 {
			c, derr := decodeChunk(line)
			if derr != nil {
				return derr
			}
			if c.Done {
				final = c
				last = now
				break
			}
			if c.Response != "" || (c.Message != nil && c.Message.Content != "") {
				if first.IsZero() {
					first = now
				} else {
					gaps = append(gaps, now.Sub(last))
				}
				last = now
			}
		}
		if err == io.EOF {
			return fmt.Errorf("stream ended without a done line")
		}
		if err != nil {
			return err
		}
	}
	if first.IsZero() {
		first = last // stream:false or no token: the whole answer is the first token
	}
	node := resp.Header.Get("X-Served-By")
	if node == "" {
		node = final.ServedBy
	}
	shard := int(s.seq.Add(1))
	ttft := first.Sub(start)
	e2e := last.Sub(start)
	s.rec.Op("ttft").Shard(shard).Record(ttft.Nanoseconds())
	for _, g := range gaps {
		s.rec.Op("itl").Shard(shard).Record(g.Nanoseconds())
	}
	var tpot time.Duration
	if final.EvalCount > 1 {
		tpot = (e2e - ttft) / time.Duration(final.EvalCount-1)
		s.rec.Op("tpot").Shard(shard).Record(tpot.Nanoseconds())
	}
	if from, to, ok := load.Window(ctx); !ok || (!last.Before(from) && last.Before(to)) {
		s.tokens.Add(int64(final.EvalCount))
		if ttft <= s.sloTTFT && (final.EvalCount < 2 || tpot <= s.sloTPOT) {
			s.good.Add(1)
		}
	}
	if node != "" {
		s.perNode.Op("e2e@" + node).Shard(shard).Record(e2e.Nanoseconds())
		s.mu.Lock()
		s.servedBy[node]++
		s.mu.Unlock()
	}
	return nil
}

// finish adds the phase histograms and the per-request scalars to env.
func (s *inferStats) finish(env *Env, res *load.Result) {
	measured := res.Measured()
	now := res.MeasureEnd
	s.rec.Tick(now)
	var phases []metrics.Operation
	for _, op := range s.rec.Ops() {
		snap := op.Snapshot(measured)
		snap.PhaseOf = requestOp
		phases = append(phases, snap)
	}
	env.AddOperations(phases...)
	env.Scalar("output_tokens_per_s", float64(s.tokens.Load())/measured.Seconds(), "tokens/s")
	env.Scalar("goodput_rps", float64(s.good.Load())/measured.Seconds(), "requests/s")
	for _, op := range res.Operations() {
		env.Scalar("requests_per_s", op.ThroughputOpsPerSec, "requests/s")
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
