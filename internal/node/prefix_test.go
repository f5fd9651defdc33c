package node

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// A prompt's leading full blocks are found only after the same prefix;
// the tail shorter than a block is never cached; the least recently used
// blocks leave first.
func TestPrefixCache(t *testing.T) {
	c := newPrefixCache(5 * prefixBlock)
	shared := numbered("s", 2*prefixBlock)
	a := append(append([]string{}, shared...), numbered("a", prefixBlock+3)...)
	b := append(append([]string{}, shared...), numbered("b", prefixBlock)...)
	for _, tt := range []struct {
		name   string
		toks   []string
		cached int
	}{
		{"first prompt", a, 0},
		{"the same again", a, 3 * prefixBlock},
		{"another after the shared prefix", b, 2 * prefixBlock},
		{"the shared prefix behind other words", append(numbered("x", 1), shared...), 0},
	} {
		if got := c.lookup(blockHashes(tt.toks)); got != tt.cached {
			t.Errorf("%s: %d tokens cached, want %d", tt.name, got, tt.cached)
		}
	}
	// Five blocks fit: the x prompt's two pushed out a's third block, the
	// least recently used.
	if got := c.lookup(blockHashes(a)); got != 2*prefixBlock {
		t.Errorf("after eviction: %d tokens of a cached, want the shared %d", got, 2*prefixBlock)
	}
	if off := newPrefixCache(0); off.lookup(blockHashes(a)) != 0 || off.lookup(blockHashes(a)) != 0 {
		t.Error("a cache of 0 tokens caches")
	}
}

// Rendezvous hashing keeps a key on its node while the node stays, and
// spreads keys over the nodes.
func TestRendezvous(t *testing.T) {
	ids := []string{"n1", "n2", "n3"}
	per := map[string]int{}
	moved := 0
	for k := range 300 {
		key := affinityKey(numbered(fmt.Sprintf("group%d-", k), prefixBlock))
		got := ids[rendezvous(key, ids)]
		per[got]++
		if rest := []string{"n1", "n3"}; got != "n2" && rest[rendezvous(key, rest)] != got {
			moved++
		}
	}
	if moved != 0 {
		t.Errorf("%d keys moved off a node that stayed when n2 left", moved)
	}
	for _, id := range ids {
		if per[id] < 50 {
			t.Errorf("keys per node %v: %s got fewer than 50 of 300", per, id)
		}
	}
}

// A repeated prompt is prefilled once: the second request's prompt time
// is 0, the node's metrics count the cached tokens, the OpenAI usage
// names them, and the answer says its timing is simulated.
func TestRepeatedPromptSkipsPrefill(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.Bootstrap, cfg.DataDir = "p1", true, t.TempDir()
	api := startNodeWith(t, cfg)
	if code, _, body := do(t, "POST", api+"/api/v1/models", `{"name":"m","size_bytes":2048}`); code != 201 {
		t.Fatalf("create model: %d %s", code, body)
	}
	prompt := strings.Join(numbered("w", 2*prefixBlock+5), " ")
	req := fmt.Sprintf(`{"model":"m","prompt":%q,"stream":false,"options":{"num_predict":2}}`, prompt)
	var evals []int64
	for range 2 {
		code, h, body := do(t, "POST", api+"/api/generate", req)
		var c inferChunk
		if err := json.Unmarshal([]byte(body), &c); code != 200 || err != nil {
			t.Fatalf("generate: %d %s %v", code, body, err)
		}
		if h.Get("X-Odbench-Simulated") != "true" {
			t.Error("the answer does not say its inference is simulated")
		}
		evals = append(evals, c.PromptEvalDuration)
	}
	want := int64(5) * cfg.PromptTokenDelay.Nanoseconds() // the tail after two cached blocks
	if evals[0] != int64(2*prefixBlock+5)*cfg.PromptTokenDelay.Nanoseconds() || evals[1] != want {
		t.Errorf("prompt eval durations %v, want the whole prompt then only its uncached tail (%d)", evals, want)
	}
	_, _, body := get(t, api+"/api/v1/metrics")
	var m struct {
		Hits   int `json:"prefix_cache_hit_tokens"`
		Misses int `json:"prefix_cache_miss_tokens"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.Hits != 2*prefixBlock || m.Misses != 2*prefixBlock+5+5 {
		t.Errorf("metrics %+v (%v): want %d hit and %d missed tokens", m, err, 2*prefixBlock, 2*prefixBlock+10)
	}
	code, _, body := do(t, "POST", api+"/v1/completions", fmt.Sprintf(`{"model":"m","prompt":%q,"max_tokens":2}`, prompt))
	var oa struct {
		Usage struct {
			Details struct {
				Cached int `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(body), &oa); code != 200 || err != nil || oa.Usage.Details.Cached != 2*prefixBlock {
		t.Errorf("openai usage: %d %s, want %d cached tokens", code, body, 2*prefixBlock)
	}
}
