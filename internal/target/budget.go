package target

// A target's rate limit (rate_limit, or cluster.rate_limit) is a budget
// per client address, which odbench's load and its own requests share:
// the load gets LoadShare of it, odbench's own requests to each member
// (readiness, status, capability probes, death checks) OwnShare, and the
// rest is a margin for the jitter of arrivals.
const (
	LoadShare = 0.75
	OwnShare  = 0.20
)
