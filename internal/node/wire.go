package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// The wire formats of an inference answer. One simulated generation
// (infer.go's serve) writes through an emitter: Ollama's NDJSON chunks
// with a final done object, or an OpenAI-compatible server's server-sent
// events ending in "data: [DONE]", with a usage chunk when asked for.

// apiKind names an inference route's API and shape.
type apiKind int

const (
	ollamaGenerate apiKind = iota
	ollamaChat
	openaiChat
	openaiCompletions
)

// genStats is what a finished generation reports.
type genStats struct {
	start, evalStart, end time.Time
	load, prompt          time.Duration
	promptTokens, tokens  int
	cachedTokens          int    // prompt tokens found in the prefix cache
	text                  string // the whole answer, for unstreamed replies
}

// emitter writes one answer.
type emitter interface {
	header(w http.ResponseWriter)
	token(tok string) error
	finish(s genStats) error
}

// openaiRequest is the body of /v1/chat/completions and /v1/completions
// (the fields the simulation uses).
type openaiRequest struct {
	Model         string        `json:"model"`
	Messages      []chatMessage `json:"messages,omitempty"`
	Prompt        any           `json:"prompt,omitempty"` // a string or a list of strings
	MaxTokens     *int          `json:"max_tokens,omitempty"`
	MaxCompletion *int          `json:"max_completion_tokens,omitempty"`
	Stream        bool          `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options,omitempty"`
}

// parseInference decodes a request body of kind into the simulation's
// request, and the emitter its answer is written with.
func parseInference(kind apiKind, body []byte, w io.Writer, nodeID string) (inferRequest, emitter, error) {
	var req inferRequest
	switch kind {
	case ollamaGenerate, ollamaChat:
		if err := json.Unmarshal(body, &req); err != nil {
			return req, nil, fmt.Errorf("malformed JSON: %v", err)
		}
		stream := req.Stream == nil || *req.Stream
		return req, &ollamaEmitter{w: w, enc: json.NewEncoder(w), chat: kind == ollamaChat, stream: stream, model: req.Model, node: nodeID}, nil
	}
	var or openaiRequest
	if err := json.Unmarshal(body, &or); err != nil {
		return req, nil, fmt.Errorf("malformed JSON: %v", err)
	}
	req.Model, req.Messages = or.Model, or.Messages
	switch p := or.Prompt.(type) {
	case string:
		req.Prompt = p
	case []any:
		for _, s := range p {
			if str, ok := s.(string); ok {
				req.Prompt += str + " "
			}
		}
	}
	switch {
	case or.MaxCompletion != nil:
		req.Options.NumPredict = *or.MaxCompletion
	case or.MaxTokens != nil:
		req.Options.NumPredict = *or.MaxTokens
	}
	stream := or.Stream
	req.Stream = &stream
	usage := or.StreamOptions != nil && or.StreamOptions.IncludeUsage
	e := &openaiEmitter{w: w, chat: kind == openaiChat, stream: stream, usage: usage, model: req.Model,
		id: fmt.Sprintf("odbench-%s-%d", nodeID, time.Now().UnixNano())}
	return req, e, nil
}

// ollamaEmitter writes Ollama's NDJSON: one chunk per token, then a final
// chunk with done and the durations and counts.
type ollamaEmitter struct {
	w            io.Writer
	enc          *json.Encoder
	chat, stream bool
	model, node  string
	flush        func()
}

func (e *ollamaEmitter) header(w http.ResponseWriter) {
	if e.stream {
		w.Header().Set("Content-Type", "application/x-ndjson")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	e.flush = flusher(w)
}

func (e *ollamaEmitter) token(tok string) error {
	if !e.stream {
		return nil
	}
	c := inferChunk{Model: e.model, CreatedAt: time.Now().UTC().Format(time.RFC3339Nano)}
	if e.chat {
		c.Message = &chatMessage{Role: "assistant", Content: tok}
	} else {
		c.Response = &tok
	}
	if err := e.enc.Encode(c); err != nil {
		return err
	}
	e.flush()
	return nil
}

func (e *ollamaEmitter) finish(s genStats) error {
	final := inferChunk{Model: e.model, CreatedAt: s.end.UTC().Format(time.RFC3339Nano), Done: true, DoneReason: "length",
		TotalDuration: s.end.Sub(s.start).Nanoseconds(), LoadDuration: s.load.Nanoseconds(),
		PromptEvalCount: s.promptTokens, PromptEvalDuration: s.prompt.Nanoseconds(),
		EvalCount: s.tokens, EvalDuration: s.end.Sub(s.evalStart).Nanoseconds(), ServedBy: e.node}
	text := ""
	if !e.stream {
		text = s.text
	}
	if e.chat {
		final.Message = &chatMessage{Role: "assistant", Content: text}
	} else {
		final.Response = &text
	}
	return e.enc.Encode(final)
}

// openaiEmitter writes an OpenAI-compatible answer: server-sent events of
// chat.completion.chunk (or text_completion) objects, a last chunk with
// finish_reason, a usage chunk when stream_options.include_usage asked
// for one, then "data: [DONE]"; or one JSON object when not streaming.
type openaiEmitter struct {
	w                   io.Writer
	chat, stream, usage bool
	model, id           string
	created             int64
	flush               func()
}

func (e *openaiEmitter) header(w http.ResponseWriter) {
	if e.stream {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	e.created = time.Now().Unix()
	e.flush = flusher(w)
}

func (e *openaiEmitter) object() string {
	switch {
	case e.chat && e.stream:
		return "chat.completion.chunk"
	case e.chat:
		return "chat.completion"
	}
	return "text_completion"
}

// choice is one choice of a chunk: the token as a delta (chat) or text.
func (e *openaiEmitter) choice(tok string, finish *string) map[string]any {
	c := map[string]any{"index": 0, "finish_reason": finish}
	if e.chat {
		c["delta"] = map[string]string{"content": tok}
	} else {
		c["text"] = tok
	}
	return c
}

func (e *openaiEmitter) event(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	e.flush()
	return nil
}

func (e *openaiEmitter) chunk(choices []any) map[string]any {
	return map[string]any{"id": e.id, "object": e.object(), "created": e.created, "model": e.model, "choices": choices}
}

func (e *openaiEmitter) token(tok string) error {
	if !e.stream {
		return nil
	}
	return e.event(e.chunk([]any{e.choice(tok, nil)}))
}

func (e *openaiEmitter) finish(s genStats) error {
	usage := map[string]any{"prompt_tokens": s.promptTokens, "completion_tokens": s.tokens, "total_tokens": s.promptTokens + s.tokens,
		"prompt_tokens_details": map[string]int{"cached_tokens": s.cachedTokens}}
	reason := "length"
	if !e.stream {
		c := map[string]any{"index": 0, "finish_reason": reason}
		if e.chat {
			c["message"] = chatMessage{Role: "assistant", Content: s.text}
		} else {
			c["text"] = s.text
		}
		out := e.chunk([]any{c})
		out["usage"] = usage
		return json.NewEncoder(e.w).Encode(out)
	}
	last := e.choice("", &reason)
	if e.chat {
		last["delta"] = map[string]string{}
	}
	if err := e.event(e.chunk([]any{last})); err != nil {
		return err
	}
	if e.usage {
		u := e.chunk([]any{})
		u["usage"] = usage
		if err := e.event(u); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(e.w, "data: [DONE]\n\n"); err != nil {
		return err
	}
	e.flush()
	return nil
}

// flusher returns w's Flush, or a no-op.
func flusher(w http.ResponseWriter) func() {
	if f, ok := w.(http.Flusher); ok {
		return f.Flush
	}
	return func() {}
}

// openaiModels serves GET /v1/models: the registry's models in the
// OpenAI list shape.
func (n *Node) openaiModels(w http.ResponseWriter, r *http.Request) {
	var data []map[string]any
	for _, m := range n.fsm.Models() {
		data = append(data, map[string]any{"id": m.Name, "object": "model", "owned_by": "odbench"})
	}
	if data == nil {
		data = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}
