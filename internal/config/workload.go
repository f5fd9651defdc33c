package config

import (
	"fmt"
	"os"
	"slices"
	"time"
)

// Workload says what the inference requests look like. Lengths are in
// tokens; where a target counts tokens its own way, the usage it reports
// is what the results say.
type Workload struct {
	// Kind is "fixed" (inference.prompt and num_predict, the default),
	// "synthetic" (lengths drawn from InputTokens and OutputTokens),
	// "dataset" (prompts and output lengths from a JSONL file),
	// "shared_prefix" (Groups system prompts, each followed by one of
	// Suffixes user prompts) or "multi_turn" (conversations whose turn k
	// carries turns 1 to k-1, after a think time).
	Kind         string       `mapstructure:"kind" json:"kind"`
	InputTokens  Lengths      `mapstructure:"input_tokens" json:"input_tokens"`
	OutputTokens Lengths      `mapstructure:"output_tokens" json:"output_tokens"`
	Dataset      string       `mapstructure:"dataset" json:"dataset,omitempty"`
	SharedPrefix SharedPrefix `mapstructure:"shared_prefix" json:"shared_prefix"`
	MultiTurn    MultiTurn    `mapstructure:"multi_turn" json:"multi_turn"`
}

// Lengths is a distribution of token counts: "fixed" (Mean), "uniform"
// (Min to Max) or "normal" (Mean and StdDev, cut to Min..Max).
type Lengths struct {
	Distribution string  `mapstructure:"distribution" json:"distribution"`
	Mean         int     `mapstructure:"mean" json:"mean"`
	StdDev       float64 `mapstructure:"stddev" json:"stddev,omitempty"`
	Min          int     `mapstructure:"min" json:"min,omitempty"`
	Max          int     `mapstructure:"max" json:"max,omitempty"`
}

// SharedPrefix is Groups system prompts of PrefixTokens, each followed by
// one of Suffixes user prompts of SuffixTokens.
type SharedPrefix struct {
	Groups       int `mapstructure:"groups" json:"groups"`
	PrefixTokens int `mapstructure:"prefix_tokens" json:"prefix_tokens"`
	Suffixes     int `mapstructure:"suffixes" json:"suffixes"`
	SuffixTokens int `mapstructure:"suffix_tokens" json:"suffix_tokens"`
}

// MultiTurn is conversations of Turns turns of TurnTokens each; a
// conversation's next turn is sent ThinkTime after its answer ended.
type MultiTurn struct {
	Turns      int           `mapstructure:"turns" json:"turns"`
	TurnTokens int           `mapstructure:"turn_tokens" json:"turn_tokens"`
	ThinkTime  time.Duration `mapstructure:"think_time" json:"think_time"`
}

// Workload kinds and length distributions.
var (
	workloadKinds = []string{"fixed", "synthetic", "dataset", "shared_prefix", "multi_turn"}
	distributions = []string{"fixed", "uniform", "normal"}
	arrivals      = []string{"constant", "poisson", "gamma"}
)

func defaultWorkload() Workload {
	return Workload{Kind: "fixed",
		InputTokens:  Lengths{Distribution: "fixed", Mean: 64},
		OutputTokens: Lengths{Distribution: "fixed", Mean: 16},
		// 16 prefixes of 1024 tokens outgrow one reference node's prefix
		// cache (8192 tokens) but fit in three nodes' when each keeps its own.
		SharedPrefix: SharedPrefix{Groups: 16, PrefixTokens: 1024, Suffixes: 8, SuffixTokens: 32},
		MultiTurn:    MultiTurn{Turns: 3, TurnTokens: 32, ThinkTime: 200 * time.Millisecond},
	}
}

func (w Workload) validate(p *problems) {
	if !slices.Contains(workloadKinds, w.Kind) {
		p.bad("inference.workload.kind", fmt.Sprintf("%q", w.Kind), fmt.Sprintf("must be one of %v", workloadKinds))
	}
	w.InputTokens.validate(p, "inference.workload.input_tokens", 1)
	w.OutputTokens.validate(p, "inference.workload.output_tokens", 2)
	if w.Kind == "dataset" {
		if w.Dataset == "" {
			p.bad("inference.workload.dataset", `""`, "must name a JSONL file of {\"prompt\": ..., \"output_tokens\": N} lines")
		} else if _, err := os.Stat(w.Dataset); err != nil {
			p.bad("inference.workload.dataset", w.Dataset, fmt.Sprintf("must be a readable file (%v)", err))
		}
	}
	if s := w.SharedPrefix; s.Groups < 1 || s.Suffixes < 1 || s.PrefixTokens < 1 || s.SuffixTokens < 1 {
		p.bad("inference.workload.shared_prefix", fmt.Sprintf("%+v", s), "groups, suffixes, prefix_tokens and suffix_tokens must be at least 1")
	}
	if m := w.MultiTurn; m.Turns < 1 || m.Turns > 100 || m.TurnTokens < 1 || m.ThinkTime < 0 {
		p.bad("inference.workload.multi_turn", fmt.Sprintf("%+v", m), "turns must be from 1 to 100, turn_tokens at least 1, think_time not negative")
	}
}

func (l Lengths) validate(p *problems, field string, least int) {
	if !slices.Contains(distributions, l.Distribution) {
		p.bad(field+".distribution", fmt.Sprintf("%q", l.Distribution), fmt.Sprintf("must be one of %v", distributions))
		return
	}
	const most = 100_000
	switch l.Distribution {
	case "fixed":
		if l.Mean < least || l.Mean > most {
			p.bad(field+".mean", l.Mean, fmt.Sprintf("must be from %d to %d", least, most))
		}
	case "uniform":
		if l.Min < least || l.Max < l.Min || l.Max > most {
			p.bad(field+".min and max", fmt.Sprintf("%d and %d", l.Min, l.Max), fmt.Sprintf("must satisfy %d <= min <= max <= %d", least, most))
		}
	case "normal":
		if l.Mean < least || l.StdDev < 0 || l.Min < least || l.Max < l.Min || l.Max > most || l.Mean < l.Min || l.Mean > l.Max {
			p.bad(field, fmt.Sprintf("mean %d, stddev %v, min %d, max %d", l.Mean, l.StdDev, l.Min, l.Max),
				fmt.Sprintf("must have %d <= min <= mean <= max <= %d and stddev >= 0", least, most))
		}
	}
}

// Capacity configures the SLO-bounded capacity search and the sweeps
// (inference/capacity, inference/sweep/..., api/.../capacity). They are
// long, so they run only when execution.scenarios names them.
type Capacity struct {
	SLO SLO `mapstructure:"slo" json:"slo"`
	// MinCompletions is the fewest requests a step's percentiles rest on:
	// a step lasts at least MinCompletions / rate.
	MinCompletions int `mapstructure:"min_completions" json:"min_completions"`
	// MinStepDuration and StepWarmup: each step measures at least this
	// long, after a warm-up at its own rate.
	MinStepDuration time.Duration `mapstructure:"min_step_duration" json:"min_step_duration"`
	StepWarmup      time.Duration `mapstructure:"step_warmup" json:"step_warmup"`
	// MaxClients is the throughput probe's closed-loop clients: enough to
	// keep every slot of the largest cluster busy.
	MaxClients int `mapstructure:"max_clients" json:"max_clients"`
	// PrecisionPercent: the search stops when its bracket (the last rate
	// that passed, the first that failed) is this narrow.
	PrecisionPercent float64 `mapstructure:"precision_percent" json:"precision_percent"`
	// KeepUpPercent: a step fails when its completions fall short of the
	// offered rate by more than this, or its backlog grows.
	KeepUpPercent float64 `mapstructure:"keep_up_percent" json:"keep_up_percent"`
	// MaxSteps bounds the search's open-loop steps.
	MaxSteps int `mapstructure:"max_steps" json:"max_steps"`
	// Arrival and Burstiness shape the steps' and sweeps' arrivals:
	// constant, poisson, or gamma with shape Burstiness (1 is Poisson,
	// below 1 burstier).
	Arrival    string  `mapstructure:"arrival" json:"arrival"`
	Burstiness float64 `mapstructure:"burstiness" json:"burstiness"`
	// SweepRates is how many rates a rate sweep runs evenly between its
	// synchronous and throughput probes; SweepClients the clients of a
	// concurrency sweep.
	SweepRates   int   `mapstructure:"sweep_rates" json:"sweep_rates"`
	SweepClients []int `mapstructure:"sweep_clients" json:"sweep_clients"`
}

// SLO bounds a step: p99s of time to first token, time per output token
// and end-to-end latency, and the error rate. 0 leaves a bound out
// (ttft and tpot do not apply to requests that are not inference).
type SLO struct {
	TTFTP99          time.Duration `mapstructure:"ttft_p99" json:"ttft_p99"`
	TPOTP99          time.Duration `mapstructure:"tpot_p99" json:"tpot_p99"`
	E2EP99           time.Duration `mapstructure:"e2e_p99" json:"e2e_p99"`
	ErrorRatePercent float64       `mapstructure:"error_rate_percent" json:"error_rate_percent"`
}

func defaultCapacity() Capacity {
	return Capacity{SLO: SLO{TTFTP99: 500 * time.Millisecond, TPOTP99: 50 * time.Millisecond, E2EP99: 10 * time.Second, ErrorRatePercent: 1},
		MinCompletions: 100, MinStepDuration: 2 * time.Second, StepWarmup: time.Second, MaxClients: 64,
		PrecisionPercent: 10, KeepUpPercent: 3, MaxSteps: 12, Arrival: "constant", Burstiness: 1,
		SweepRates: 5, SweepClients: []int{1, 4, 16, 64}}
}

func (c Capacity) validate(p *problems) {
	if s := c.SLO; s.TTFTP99 < 0 || s.TPOTP99 < 0 || s.E2EP99 < 0 || s.ErrorRatePercent < 0 || s.ErrorRatePercent > 100 {
		p.bad("capacity.slo", fmt.Sprintf("%+v", s), "durations must not be negative, error_rate_percent from 0 to 100")
	}
	if c.MinCompletions < 10 {
		p.bad("capacity.min_completions", c.MinCompletions, "must be at least 10 (a p99 needs requests to rest on)")
	}
	if c.MinStepDuration < 500*time.Millisecond || c.StepWarmup < 0 {
		p.bad("capacity.min_step_duration and step_warmup", fmt.Sprintf("%v and %v", c.MinStepDuration, c.StepWarmup), "must be at least 500ms and not negative")
	}
	if c.MaxClients < 2 || c.MaxClients > 4096 {
		p.bad("capacity.max_clients", c.MaxClients, "must be from 2 to 4096")
	}
	if c.PrecisionPercent < 1 || c.PrecisionPercent > 50 {
		p.bad("capacity.precision_percent", c.PrecisionPercent, "must be from 1 to 50")
	}
	if c.KeepUpPercent <= 0 || c.KeepUpPercent > 50 {
		p.bad("capacity.keep_up_percent", c.KeepUpPercent, "must be above 0 and at most 50")
	}
	if c.MaxSteps < 2 || c.MaxSteps > 50 {
		p.bad("capacity.max_steps", c.MaxSteps, "must be from 2 to 50")
	}
	if !slices.Contains(arrivals, c.Arrival) {
		p.bad("capacity.arrival", fmt.Sprintf("%q", c.Arrival), fmt.Sprintf("must be one of %v", arrivals))
	}
	if c.Burstiness <= 0 || c.Burstiness > 100 {
		p.bad("capacity.burstiness", c.Burstiness, "must be above 0 and at most 100")
	}
	if c.SweepRates < 1 || c.SweepRates > 50 {
		p.bad("capacity.sweep_rates", c.SweepRates, "must be from 1 to 50")
	}
	p.positiveList("capacity.sweep_clients", c.SweepClients, 4096)
}
