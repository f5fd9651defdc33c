// How an inference request is spelled for the target: its API kind and
// routes from the profile (inference.api in the config overrides the
// kind), the model, prompt and length from the config; and how an answer
// that generated nothing is told from one that did.

package scenarios

import (
	"encoding/json"
	"os"
	"strings"

	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/target"
)

// inferTarget says how to send an inference request: the API, the route,
// the model, the prompt, the tokens asked for and the key to send.
type inferTarget struct {
	api        string // ollama | openai
	path       string
	chat       bool
	model      string
	prompt     string
	numPredict int
	apiKey     string
	profile    *target.Inference
}

// inferTargetOf spells the inference requests of env's target. The
// profile must have an inference section (the scenarios skip without).
func inferTargetOf(env *Env, chat bool) inferTarget {
	in := env.Config.Inference
	prof := env.Target.Inference
	if prof == nil {
		prof = &target.Inference{API: "ollama"}
	}
	api := prof.API
	if in.API != "" {
		api = in.API
	}
	t := inferTarget{api: api, chat: chat, model: in.Model, prompt: in.Prompt, numPredict: in.NumPredict, profile: prof}
	if api == "openai" && in.OpenAIRoute == "chat" {
		t.chat = true
	}
	route := *prof
	if route.API != api { // the config chose another kind: that kind's routes
		route = target.Inference{API: api}
	}
	t.path = route.Path(t.chat)
	if in.APIKeyEnv != "" {
		t.apiKey = os.Getenv(in.APIKeyEnv)
	}
	return t
}

// request returns the path and body of the fixed request (inference.prompt
// and num_predict), streamed or whole.
func (t inferTarget) request(stream bool) (string, []byte) {
	return t.path, t.body(promptReq{user: t.prompt, output: t.numPredict}, stream)
}

// body spells one request of a workload: a chat's messages (a shared
// prefix as the system message, the conversation so far, the new user
// turn), or a completion's prompt (the same texts in order).
func (t inferTarget) body(r promptReq, stream bool) []byte {
	var msgs []map[string]string
	if r.system != "" {
		msgs = append(msgs, map[string]string{"role": "system", "content": r.system})
	}
	for _, h := range r.history {
		msgs = append(msgs, map[string]string{"role": h.role, "content": h.content})
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": r.user})
	body := map[string]any{"model": t.model}
	if t.chat {
		body["messages"] = msgs
	} else {
		parts := make([]string, len(msgs))
		for i, m := range msgs {
			parts[i] = m["content"]
		}
		body["prompt"] = strings.Join(parts, "\n\n")
	}
	body["stream"] = stream
	if t.api == "openai" {
		body["max_tokens"] = r.output
		if stream {
			body["stream_options"] = map[string]bool{"include_usage": true}
		}
	} else {
		body["options"] = map[string]int{"num_predict": r.output}
	}
	b, _ := json.Marshal(body)
	return b
}

// headers are the request's headers.
func (t inferTarget) headers() map[string]string {
	h := map[string]string{"Content-Type": "application/json"}
	if t.apiKey != "" {
		h["Authorization"] = "Bearer " + t.apiKey
	}
	return h
}

// errPlaceholder: a 2xx inference answer that generated nothing: it
// matched one of the profile's placeholder patterns, or carried no text.
// A route that answers this way exists in name only; its latency is not
// inference.
type errPlaceholder struct{ detail string }

func (e errPlaceholder) Error() string { return "placeholder answer: " + e.detail }
func (e errPlaceholder) Kind() string  { return "placeholder" }

// placeholderIn returns why text, an answer's generated text (or its whole
// body), is a placeholder, or "".
func (t inferTarget) placeholderIn(generated string, body []byte) string {
	if t.profile.IsPlaceholder(body) || t.profile.IsPlaceholder([]byte(generated)) {
		return clip(strings.TrimSpace(generated+" "+string(body)), 120)
	}
	if strings.TrimSpace(generated) == "" {
		return "no generated text"
	}
	return ""
}

// judgeWhole judges a whole (not streamed) answer: 2xx with generated
// text that is not a placeholder.
func (t inferTarget) judgeWhole(code int, header func(string) string, body []byte) error {
	if code/100 != 2 {
		return load.StatusErrorOf(code, header, body)
	}
	var a struct {
		Response *string `json:"response"`
		Message  *struct {
			Content string `json:"content"`
		} `json:"message"`
		Choices []struct {
			Text    string `json:"text"`
			Message *struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(body, &a)
	var text string
	switch {
	case a.Response != nil:
		text = *a.Response
	case a.Message != nil:
		text = a.Message.Content
	case len(a.Choices) > 0 && a.Choices[0].Message != nil:
		text = a.Choices[0].Message.Content
	case len(a.Choices) > 0:
		text = a.Choices[0].Text
	}
	if why := t.placeholderIn(text, body); why != "" {
		return errPlaceholder{why}
	}
	return nil
}

// judgeStreamed judges a streamed answer once read: it generated text
// that is not a placeholder.
func (t inferTarget) judgeStreamed(a answer) error {
	if why := t.placeholderIn(string(a.text), nil); why != "" {
		return errPlaceholder{why}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
