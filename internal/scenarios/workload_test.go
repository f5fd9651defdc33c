package scenarios

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/config"
)

// The example dataset, a shared-prefix workload and a multi-turn workload
// each run against the reference node, through Ollama's API and the
// OpenAI-compatible one: every request answered, the prompt tokens the
// server counted reported, and what each workload is for seen in the
// counts (a conversation carries its earlier turns; shared prefixes and
// earlier turns are found in the node's prefix cache).
func TestWorkloads(t *testing.T) {
	c := localtest.Start(t, 1, "--token-delay", "1ms", "--prompt-token-delay", "10us")
	for _, api := range []string{"ollama", "openai"} {
		for _, kind := range []string{"dataset", "shared_prefix", "multi_turn", "synthetic"} {
			t.Run(api+"/"+kind, func(t *testing.T) {
				cfg := shortConfig()
				cfg.Inference.API = api
				w := &cfg.Inference.Workload
				w.Kind, w.Dataset = kind, "../../testdata/prompts.jsonl"
				w.SharedPrefix = config.SharedPrefix{Groups: 2, PrefixTokens: 64, Suffixes: 3, SuffixTokens: 8}
				w.MultiTurn = config.MultiTurn{Turns: 3, TurnTokens: 20, ThinkTime: 10 * time.Millisecond}
				w.InputTokens = config.Lengths{Distribution: "uniform", Min: 10, Max: 40}
				w.OutputTokens = config.Lengths{Distribution: "normal", Mean: 6, StdDev: 2, Min: 2, Max: 10}
				before := prefixHits(t, c.Nodes()[0].API)
				res, _, err := run(t, cfg, specNamed(t, cfg, "inference/generate/clients=4"), c)
				if err != nil {
					t.Fatal(err)
				}
				op := res.Operations[0]
				if op.Count == 0 || op.Errors > 0 {
					t.Fatalf("%s: %d answered, %d errors %v", op.Name, op.Count, op.Errors, op.ErrorsByKind)
				}
				in, ok := scalar(res, "input_tokens_per_request")
				if !ok || in.Value == nil {
					t.Fatalf("input tokens %+v: want the server's count", in)
				}
				named := map[string]string{"dataset": "dataset", "shared_prefix": "shared prefix", "multi_turn": "multi-turn", "synthetic": "synthetic"}[kind]
				if !strings.HasPrefix(res.Params["workload"], named) {
					t.Errorf("workload param %q", res.Params["workload"])
				}
				hits := prefixHits(t, c.Nodes()[0].API) - before
				switch kind {
				case "multi_turn":
					// Turns 2 and 3 carry the turns before them.
					if *in.Value <= float64(w.MultiTurn.TurnTokens) || hits == 0 {
						t.Errorf("%v prompt tokens a request, %d cached: want conversations carrying their turns", *in.Value, hits)
					}
				case "shared_prefix":
					if *in.Value < float64(w.SharedPrefix.PrefixTokens) || hits == 0 {
						t.Errorf("%v prompt tokens a request, %d cached: want the shared prefixes found in the cache", *in.Value, hits)
					}
				case "synthetic":
					if *in.Value < 10 || *in.Value > 40 {
						t.Errorf("%v prompt tokens a request, want within 10..40", *in.Value)
					}
				}
			})
		}
	}
}

// prefixHits reads the node's prefix cache hits, in tokens.
func prefixHits(t *testing.T, base string) int64 {
	t.Helper()
	m, err := NewAPI(newFast(), defaultTarget()).Metrics(context.Background(), base)
	if err != nil || m.PrefixHitTokens == nil {
		t.Fatalf("metrics %+v: %v", m, err)
	}
	return *m.PrefixHitTokens
}

// A dataset line that is not a prompt names its file and line.
func TestDatasetErrorsNameTheirLine(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/bad.jsonl"
	if err := os.WriteFile(path, []byte("{\"prompt\": \"hi\", \"output_tokens\": 4}\n{\"text\": \"no prompt\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := newWorkload(config.Inference{Workload: config.Workload{Kind: "dataset", Dataset: path}}, 1)
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:2:") {
		t.Errorf("err = %v, want it to name bad.jsonl:2", err)
	}
}

// On the shared-prefix workload, prefix affinity keeps each prefix on one
// node, whose cache then holds it; round robin spreads every prefix over
// every node, whose caches cannot hold them all (16 prefixes of 1024
// tokens against 8192 tokens a node). Hit rates are counts of tokens.
func TestPrefixAffinityHitsMore(t *testing.T) {
	c := localtest.Start(t, 3, "--token-delay", "1ms", "--prompt-token-delay", "20us")
	cfg := shortConfig()
	res, _, err := run(t, cfg, specNamed(t, cfg, "loadbalance/prefix_cache"), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"prefix_cache_hit_percent_round_robin", "prefix_cache_hit_percent_prefix_affinity", "ttft_p99_ms_prefix_affinity"} {
		if s, ok := scalar(res, name); !ok || s.Value == nil {
			t.Errorf("no %s", name)
		}
	}
	if ch := checkNamed(t, res, "prefix_affinity_hits_more"); !ch.Passed {
		t.Errorf("prefix_affinity_hits_more: %s", ch.Detail)
	}
}
