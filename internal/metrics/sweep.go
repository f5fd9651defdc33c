package metrics

// Sweep is what a sweep or a capacity search measured: one point per
// load it offered, and what the search found.
type Sweep struct {
	// Kind is "rate" (synchronous, throughput, rates between), "clients"
	// (closed loops of rising clients) or "capacity" (the SLO-bounded
	// search).
	Kind   string       `json:"kind"`
	Points []SweepPoint `json:"points"`
	// SLO is what each point was judged against (a bound of 0 is left out).
	SLO map[string]string `json:"slo,omitempty"`
	// Capacity is the highest offered rate that met every SLO, nil when
	// none did (CapacityAbsent says why).
	Capacity       *float64 `json:"capacity_rps,omitempty"`
	CapacityAbsent string   `json:"capacity_absent,omitempty"`
	// Bracket is the last rate that passed and the first that failed
	// (0: no rate failed, up to the search's last step).
	BracketLow  float64 `json:"bracket_low_rps,omitempty"`
	BracketHigh float64 `json:"bracket_high_rps,omitempty"`
	// Binding is what failed at the bracket's high end: the SLO, the error
	// rate, or the target not keeping up.
	Binding string `json:"binding,omitempty"`
	// Knee is the highest offered rate whose TTFT p99 (e2e p99 for
	// requests that are not inference) stayed within twice the
	// synchronous one.
	Knee *float64 `json:"knee_rps,omitempty"`
}

// SweepPoint is one load of a sweep.
type SweepPoint struct {
	// Label names it: "synchronous", "throughput", "rate=12.5",
	// "clients=16".
	Label string `json:"label"`
	// OfferedRPS is the open loop's rate (0 for a closed loop), Clients a
	// closed loop's clients.
	OfferedRPS float64 `json:"offered_rps,omitempty"`
	Clients    int     `json:"clients,omitempty"`
	// AchievedRPS counts the requests that completed in the window, over
	// it; GoodputRPS those that also met every latency SLO.
	AchievedRPS float64  `json:"achieved_rps"`
	GoodputRPS  *float64 `json:"goodput_rps,omitempty"`
	Completions int64    `json:"completions"`
	ErrorRate   float64  `json:"error_rate"` // fraction 0..1
	// Latency percentiles in nanoseconds (TTFT and TPOT absent for
	// requests that are not inference, or answers that did not stream).
	E2EP50Ns  int64  `json:"e2e_p50_ns"`
	E2EP99Ns  int64  `json:"e2e_p99_ns"`
	TTFTP50Ns *int64 `json:"ttft_p50_ns,omitempty"`
	TTFTP99Ns *int64 `json:"ttft_p99_ns,omitempty"`
	TPOTP50Ns *int64 `json:"tpot_p50_ns,omitempty"`
	TPOTP99Ns *int64 `json:"tpot_p99_ns,omitempty"`
	// OutputTokensPerS is the whole cluster's; TokensPerSPerUser what one
	// request sees while decoding (1 / TPOT p50).
	OutputTokensPerS  *float64 `json:"output_tokens_per_s,omitempty"`
	TokensPerSPerUser *float64 `json:"tokens_per_s_per_user,omitempty"`
	// BacklogGrew: the requests outstanding at the end of the window
	// outnumbered those at its start by more than chance.
	BacklogGrew bool `json:"backlog_grew,omitempty"`
	// Passed says whether the point met every SLO and kept up; Why says
	// what it missed.
	Passed *bool  `json:"passed,omitempty"`
	Why    string `json:"why,omitempty"`
}
