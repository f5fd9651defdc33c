package scenarios

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/metrics"
)

// TestStreamParsers reads recorded answers in each server family's wire
// format: Ollama's NDJSON with its final done object, and OpenAI-compatible
// server-sent events with comments, keep-alives, a role-only first delta,
// usage null on every chunk but a trailing usage chunk, CRLF line ends,
// llama.cpp's usage in the last choice chunk, and errors mid-stream.
func TestStreamParsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file        string
		sse         bool
		chunks      int
		tokens      int
		tokensKnown bool
		load        time.Duration
		err         string
	}{
		{"ollama_generate.ndjson", false, 4, 4, true, 201 * time.Millisecond, ""},
		{"ollama_chat_no_counts.ndjson", false, 2, 0, false, 0, ""},
		{"ollama_one_piece.json", false, 1, 9, true, 0, ""},
		{"ollama_error.ndjson", false, 1, 0, false, 0, "stream error: model runner has unexpectedly stopped"},
		{"openai_chat_usage.sse", true, 3, 4, true, 0, ""},
		{"openai_completions_no_usage.sse", true, 2, 0, false, 0, ""},
		{"openai_error_event.sse", true, 1, 0, false, 0, "stream error event"},
		{"openai_error_object.sse", true, 1, 0, false, 0, "stream error: Request timed out on the GPU worker"},
		{"llamacpp_usage_in_last_choice.sse", true, 0, 2, true, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "streams", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var a answer
			if tt.sse {
				a, err = readSSE(f)
			} else {
				a, err = readNDJSON(f)
			}
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.chunks != tt.chunks || a.tokens != tt.tokens || a.tokensKnown != tt.tokensKnown {
				t.Errorf("chunks %d, tokens %d (known %v); want %d, %d (%v)", a.chunks, a.tokens, a.tokensKnown, tt.chunks, tt.tokens, tt.tokensKnown)
			}
			if tt.load > 0 && (a.load == nil || *a.load != tt.load) {
				t.Errorf("load %v, want %v", a.load, tt.load)
			}
			if len(a.gaps) != max(a.chunks-1, 0) {
				t.Errorf("%d gaps for %d content chunks", len(a.gaps), a.chunks)
			}
		})
	}
}

// TestStreamEndsEarly: a stream that stops before its end marker is an
// error, not a short answer.
func TestStreamEndsEarly(t *testing.T) {
	t.Parallel()
	if _, err := readNDJSON(strings.NewReader(`{"response":"a","done":false}` + "\n")); err == nil {
		t.Error("NDJSON without a done line read as complete")
	}
	if _, err := readSSE(strings.NewReader("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n")); err == nil {
		t.Error("SSE without [DONE] read as complete")
	}
}

// FuzzStreamParsers: any bytes give an answer or an error, never a panic.
func FuzzStreamParsers(f *testing.F) {
	for _, name := range []string{"ollama_generate.ndjson", "openai_chat_usage.sse", "openai_error_event.sse"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "streams", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = readNDJSON(strings.NewReader(string(data)))
		_, _ = readSSE(strings.NewReader(string(data)))
	})
}

// TestOpenAIAgainstReferenceNode: the OpenAI-compatible streaming path,
// end to end against a reference node generating one token per 50 ms:
// TTFT, TPOT, ITL and tokens/s are measured, and TPOT, ITL and the
// per-request token rate match the node's token delay within 10%. The
// same for Ollama's native stream, which also reports load and prompt
// times as their own phases.
func TestOpenAIAgainstReferenceNode(t *testing.T) {
	c := localtest.Start(t, 1, "--token-delay", "50ms")
	for _, api := range []string{"openai", "ollama"} {
		t.Run(api, func(t *testing.T) {
			cfg := shortConfig()
			cfg.Inference.API = api
			cfg.Inference.NumPredict = 8
			cfg.Execution.Duration = 2 * time.Second
			cfg.Execution.WarmupDuration = 500 * time.Millisecond
			res, _, err := run(t, cfg, specNamed(t, cfg, "inference/generate/clients=1"), c)
			if err != nil {
				t.Fatal(err)
			}
			ops := map[string]metrics.Operation{}
			for _, op := range res.Operations {
				ops[op.Name] = op
			}
			for _, name := range []string{"ttft", "tpot", "itl"} {
				if ops[name].Count == 0 {
					t.Errorf("no %s measured (operations %v)", name, res.Operations)
				}
			}
			const delay = 50 * time.Millisecond
			for _, name := range []string{"tpot", "itl"} {
				if p50 := time.Duration(ops[name].Latency.P50Ns); p50 < delay*9/10 || p50 > delay*11/10 {
					t.Errorf("%s p50 = %v, want the node's token delay %v within 10%%", name, p50, delay)
				}
			}
			var tps, rps float64
			for _, sc := range res.Scalars {
				switch sc.Name {
				case "output_tokens_per_s":
					if sc.Value != nil {
						tps = *sc.Value
					}
				case "requests_per_s":
					rps = *sc.Value
				}
			}
			// One client: tokens per second of generation is one per token
			// delay, less the first token's wait inside each request.
			if rps == 0 || tps/rps < 7.2 || tps/rps > 8.8 {
				t.Errorf("tokens/s %.1f over requests/s %.2f = %.2f tokens per request, want 8 ±10%%", tps, rps, tps/rps)
			}
			if api == "ollama" && ops["prompt_eval"].Count == 0 {
				t.Errorf("Ollama's prompt_eval_duration not recorded as a phase")
			}
		})
	}
}
