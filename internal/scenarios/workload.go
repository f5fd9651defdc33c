// The requests an inference workload sends: their prompts and output
// lengths, drawn from inference.workload. Lengths are in tokens, spelled
// as words: the reference node counts words as tokens; a real server
// tokenizes the words its own way, and its usage (when it reports one) is
// what the results count.

package scenarios

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/config"
)

// chatTurn is one message of a conversation.
type chatTurn struct{ role, content string }

// promptReq is one request of a workload.
type promptReq struct {
	// system is a shared prefix: the system message of a chat, or the
	// start of a completion's prompt.
	system string
	// history is the conversation so far (multi-turn), user the new turn.
	history []chatTurn
	user    string
	// output is the tokens to generate.
	output int
	// conv is the conversation the request continues (multi-turn).
	conv *conversation
}

// conversation is a multi-turn conversation between its turns.
type conversation struct {
	history []chatTurn
	turn    int
	readyAt time.Time
}

// datasetRecord is one line of a JSONL dataset.
type datasetRecord struct {
	Prompt       string `json:"prompt"`
	OutputTokens int    `json:"output_tokens"`
}

// workload hands out the requests of inference.workload; it is safe for
// concurrent use.
type workload struct {
	cfg        config.Workload
	fixed      string // inference.prompt
	numPredict int

	mu       sync.Mutex
	rnd      *rand.Rand
	records  []datasetRecord
	next     int
	prefixes []string   // shared_prefix: one system prompt per group
	suffixes [][]string // shared_prefix: the user prompts of each group
	waiting  []*conversation
}

// vocabulary is what synthetic prompts are made of.
var vocabulary = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if so what no can more out
up other into could time some them than then its only new about these two may first any like our over such
man also most made after did many before must through back years where much your way well down should because
each just those people how too little state good very make world still own see men work long get here between
both life being under never day same another know while last might us great old year off come since against
go came right used take three`)

// newWorkload reads inference.workload (the dataset, if any) and seeds
// the draws.
func newWorkload(in config.Inference, seed uint64) (*workload, error) {
	w := &workload{cfg: in.Workload, fixed: in.Prompt, numPredict: in.NumPredict, rnd: rand.New(rand.NewPCG(seed, 0x9e3779b9))}
	switch w.cfg.Kind {
	case "dataset":
		recs, err := readDataset(w.cfg.Dataset)
		if err != nil {
			return nil, err
		}
		w.rnd.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
		w.records = recs
	case "shared_prefix":
		sp := w.cfg.SharedPrefix
		for g := range sp.Groups {
			w.prefixes = append(w.prefixes, fmt.Sprintf("system%d: %s", g, w.words(sp.PrefixTokens-1)))
			var sfx []string
			for range sp.Suffixes {
				sfx = append(sfx, w.words(sp.SuffixTokens))
			}
			w.suffixes = append(w.suffixes, sfx)
		}
	}
	return w, nil
}

// readDataset reads a JSONL file of {"prompt": ..., "output_tokens": N}.
func readDataset(path string) ([]datasetRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inference.workload.dataset: %v", err)
	}
	defer f.Close()
	var out []datasetRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var r datasetRecord
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil || r.Prompt == "" || r.OutputTokens < 0 {
			return nil, fmt.Errorf("%s:%d: want {\"prompt\": \"...\", \"output_tokens\": N} (%v)", path, line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no prompts", path)
	}
	return out, nil
}

// words returns n words of the vocabulary (w.mu held or not yet shared).
func (w *workload) words(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = vocabulary[w.rnd.IntN(len(vocabulary))]
	}
	return strings.Join(out, " ")
}

// length draws from l.
func (w *workload) length(l config.Lengths) int {
	switch l.Distribution {
	case "uniform":
		return l.Min + w.rnd.IntN(l.Max-l.Min+1)
	case "normal":
		v := int(math.Round(float64(l.Mean) + l.StdDev*w.rnd.NormFloat64()))
		return min(max(v, l.Min), l.Max)
	}
	return l.Mean
}

// nextReq returns the next request.
func (w *workload) nextReq(now time.Time) promptReq {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.cfg.Kind {
	case "synthetic":
		return promptReq{user: w.words(w.length(w.cfg.InputTokens)), output: w.length(w.cfg.OutputTokens)}
	case "dataset":
		r := w.records[w.next%len(w.records)]
		w.next++
		out := r.OutputTokens
		if out == 0 {
			out = w.length(w.cfg.OutputTokens)
		}
		return promptReq{user: r.Prompt, output: max(out, 2)}
	case "shared_prefix":
		g := w.rnd.IntN(len(w.prefixes))
		sfx := w.suffixes[g]
		return promptReq{system: w.prefixes[g], user: sfx[w.rnd.IntN(len(sfx))], output: w.length(w.cfg.OutputTokens)}
	case "multi_turn":
		return w.nextTurn(now)
	}
	return promptReq{user: w.fixed, output: w.numPredict}
}

// nextTurn continues the conversation whose think time ended first, or
// starts one.
func (w *workload) nextTurn(now time.Time) promptReq {
	var c *conversation
	best := -1
	for i, cv := range w.waiting {
		if !cv.readyAt.After(now) && (best < 0 || cv.readyAt.Before(w.waiting[best].readyAt)) {
			best = i
		}
	}
	if best >= 0 {
		c = w.waiting[best]
		w.waiting = append(w.waiting[:best], w.waiting[best+1:]...)
	} else {
		c = &conversation{}
	}
	return promptReq{history: append([]chatTurn(nil), c.history...), user: w.words(w.cfg.MultiTurn.TurnTokens),
		output: w.length(w.cfg.OutputTokens), conv: c}
}

// finished tells the workload that r was answered with text (ok), or
// failed: a conversation goes on to its next turn after the think time,
// or ends when its turns are done or one failed.
func (w *workload) finished(r promptReq, text string, ok bool, now time.Time) {
	c := r.conv
	if c == nil || !ok {
		return
	}
	if strings.TrimSpace(text) == "" {
		text = strings.Repeat("token ", r.output)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	c.history = append(c.history, chatTurn{"user", r.user}, chatTurn{"assistant", strings.TrimSpace(text)})
	c.turn++
	if c.turn < w.cfg.MultiTurn.Turns {
		c.readyAt = now.Add(w.cfg.MultiTurn.ThinkTime)
		w.waiting = append(w.waiting, c)
	}
}

// describe names the workload for a scenario's parameters.
func (w *workload) describe() string {
	c := w.cfg
	lengths := func(l config.Lengths) string {
		switch l.Distribution {
		case "uniform":
			return fmt.Sprintf("uniform %d-%d", l.Min, l.Max)
		case "normal":
			return fmt.Sprintf("normal %d±%g in %d-%d", l.Mean, l.StdDev, l.Min, l.Max)
		}
		return fmt.Sprint(l.Mean)
	}
	switch c.Kind {
	case "synthetic":
		return fmt.Sprintf("synthetic: input %s, output %s tokens", lengths(c.InputTokens), lengths(c.OutputTokens))
	case "dataset":
		return fmt.Sprintf("dataset %s (%d prompts)", c.Dataset, len(w.records))
	case "shared_prefix":
		sp := c.SharedPrefix
		return fmt.Sprintf("shared prefix: %d groups of a %d-token system prompt and %d suffixes of %d tokens, output %s",
			sp.Groups, sp.PrefixTokens, sp.Suffixes, sp.SuffixTokens, lengths(c.OutputTokens))
	case "multi_turn":
		mt := c.MultiTurn
		return fmt.Sprintf("multi-turn: %d turns of %d tokens, %v think time, output %s", mt.Turns, mt.TurnTokens, mt.ThinkTime, lengths(c.OutputTokens))
	}
	return fmt.Sprintf("fixed prompt, %d output tokens", w.numPredict)
}

// workload returns the scenario's requests, seeded by its seed.
func (e *Env) workload() (*workload, error) {
	w, err := newWorkload(e.Config.Inference, e.Seed)
	if err == nil {
		e.res.Params = withParam(e.res.Params, "workload", w.describe())
	}
	return w, err
}
