package scenarios

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// The two streamed inference wire formats odbench reads, each into an
// answer: Ollama's NDJSON (one JSON object per line, a final one with
// done: true and the counts and durations), and the server-sent events
// of OpenAI-compatible servers (vLLM, llama.cpp's server, SGLang, TGI,
// Ollama's /v1): "data: {json}" events, comments and keep-alives, a usage
// chunk when stream_options.include_usage was asked for, "data: [DONE]".

// answer is what one streamed answer told, timed on arrival.
type answer struct {
	// first and last are when the first and the last content arrived.
	first, last time.Time
	// gaps are the times between content chunks.
	gaps []time.Duration
	// chunks counts the chunks that carried content: one means the answer
	// came in one piece (not streamed).
	chunks int
	// tokens is the server's count of generated tokens (Ollama's
	// eval_count, OpenAI's usage.completion_tokens), when tokensKnown.
	tokens      int
	tokensKnown bool
	// prompt is the server's count of prompt tokens (Ollama's
	// prompt_eval_count, OpenAI's usage.prompt_tokens), when promptKnown;
	// cached those it found in its prefix cache (OpenAI's
	// usage.prompt_tokens_details.cached_tokens), when cachedKnown.
	prompt, cached           int
	promptKnown, cachedKnown bool
	// node is the serving node, when the answer names it.
	node string
	// load and promptEval are Ollama's load_duration and
	// prompt_eval_duration, when present.
	load, promptEval *time.Duration
	// text is the start of the generated text (at most maxAnswerText
	// bytes), to tell a placeholder from an answer.
	text []byte
}

// maxAnswerText bounds the generated text an answer keeps.
const maxAnswerText = 4096

// content notes a content chunk of text that arrived at now.
func (a *answer) content(now time.Time, text string) {
	if room := maxAnswerText - len(a.text); room > 0 {
		a.text = append(a.text, text[:min(len(text), room)]...)
	}
	if a.chunks == 0 {
		a.first = now
	} else {
		a.gaps = append(a.gaps, now.Sub(a.last))
	}
	a.last = now
	a.chunks++
}

// ndjsonChunk is the part of an Ollama NDJSON line the measurement reads.
type ndjsonChunk struct {
	Response *string `json:"response"`
	Message  *struct {
		Content string `json:"content"`
	} `json:"message"`
	Done               bool   `json:"done"`
	EvalCount          *int   `json:"eval_count"`
	PromptEvalCount    *int   `json:"prompt_eval_count"`
	LoadDuration       *int64 `json:"load_duration"`
	PromptEvalDuration *int64 `json:"prompt_eval_duration"`
	ServedBy           string `json:"served_by"`
	Error              string `json:"error"`
}

// readNDJSON reads an Ollama stream until its done line.
func readNDJSON(r io.Reader) (answer, error) {
	var a answer
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadBytes('\n')
		now := time.Now()
		if len(bytes.TrimSpace(line)) > 0 {
			var c ndjsonChunk
			if jerr := json.Unmarshal(line, &c); jerr != nil {
				return a, fmt.Errorf("undecodable stream line: %v", jerr)
			}
			if c.Error != "" {
				return a, fmt.Errorf("stream error: %s", c.Error)
			}
			text := ""
			if c.Response != nil {
				text = *c.Response
			} else if c.Message != nil {
				text = c.Message.Content
			}
			if text != "" {
				a.content(now, text)
			}
			if c.Done {
				if a.chunks == 0 {
					a.first, a.last = now, now
				}
				if c.EvalCount != nil {
					a.tokens, a.tokensKnown = *c.EvalCount, true
				}
				if c.PromptEvalCount != nil {
					a.prompt, a.promptKnown = *c.PromptEvalCount, true
				}
				if c.LoadDuration != nil {
					d := time.Duration(*c.LoadDuration)
					a.load = &d
				}
				if c.PromptEvalDuration != nil {
					d := time.Duration(*c.PromptEvalDuration)
					a.promptEval = &d
				}
				a.node = c.ServedBy
				return a, nil
			}
		}
		if err == io.EOF {
			return a, errors.New("stream ended without a done line")
		}
		if err != nil {
			return a, err
		}
	}
}

// sseChunk is the part of an OpenAI-compatible event the measurement reads.
type sseChunk struct {
	Choices []struct {
		Delta *struct {
			Content string `json:"content"`
		} `json:"delta"`
		Text string `json:"text"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int  `json:"completion_tokens"`
		PromptTokens     *int `json:"prompt_tokens"`
		Details          *struct {
			Cached *int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// readSSE reads server-sent events until "data: [DONE]". An event is its
// data lines joined; comment lines (":" keep-alives) and other fields are
// skipped; an "error" event or an object with an error ends the stream.
func readSSE(r io.Reader) (answer, error) {
	var a answer
	br := bufio.NewReaderSize(r, 4096)
	var data []string
	event := ""
	dispatch := func(now time.Time) (done bool, err error) {
		defer func() { data, event = nil, "" }()
		if len(data) == 0 {
			return false, nil
		}
		payload := strings.Join(data, "\n")
		if strings.TrimSpace(payload) == "[DONE]" {
			if a.chunks == 0 {
				a.first, a.last = now, now
			}
			return true, nil
		}
		if event == "error" {
			return false, fmt.Errorf("stream error event: %s", payload)
		}
		var c sseChunk
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			return false, fmt.Errorf("undecodable event: %v", err)
		}
		if c.Error != nil {
			return false, fmt.Errorf("stream error: %s", c.Error.Message)
		}
		for _, ch := range c.Choices {
			text := ch.Text
			if ch.Delta != nil && ch.Delta.Content != "" {
				text = ch.Delta.Content
			}
			if text != "" {
				a.content(now, text)
				break
			}
		}
		if u := c.Usage; u != nil {
			a.tokens, a.tokensKnown = u.CompletionTokens, true
			if u.PromptTokens != nil {
				a.prompt, a.promptKnown = *u.PromptTokens, true
			}
			if u.Details != nil && u.Details.Cached != nil {
				a.cached, a.cachedKnown = *u.Details.Cached, true
			}
		}
		return false, nil
	}
	for {
		line, err := br.ReadBytes('\n')
		now := time.Now()
		l := strings.TrimRight(string(line), "\r\n")
		switch {
		case l == "":
			if len(line) > 0 || err == io.EOF {
				if done, derr := dispatch(now); derr != nil || done {
					return a, derr
				}
			}
		case strings.HasPrefix(l, ":"): // a comment: keep-alive
		default:
			field, value, _ := strings.Cut(l, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "data":
				data = append(data, value)
			case "event":
				event = value
			}
		}
		if err == io.EOF {
			return a, errors.New("stream ended without data: [DONE]")
		}
		if err != nil {
			return a, err
		}
	}
}
