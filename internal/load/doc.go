// Package load is odbench's load engine. It knows nothing of what an
// operation does: it repeats Operations and records how long they took.
//
// What flows through it, in order:
//
//  1. A scenario builds one or more Operations (a name, a weight, a func)
//     and picks a mode:
//     - RunClosed: N workers; each starts its next operation when the
//     previous one returns (the load adapts to the target's speed);
//     - RunOpen: a scheduler releases operations at a fixed rate or with
//     Poisson arrivals, whatever the target's speed, to at most MaxInFlight
//     workers. Latency is measured from the intended start time, so a stall
//     shows up in the percentiles instead of silently slowing the load
//     (coordinated omission, as wrk2 corrects it); the uncorrected view is
//     kept too. Starts more than LateThreshold behind schedule are counted
//     as late, intended starts that never began before the end as dropped;
//     - RunStep: open-loop steps of rising rate until an SLO breaks.
//  2. Warm-up runs the same load without recording; measuring starts
//     without a pause, on warm connections.
//  3. Every completed operation goes to a metrics.Recorder shard (successes
//     as latency, failures counted by kind, see Classify); once a second the
//     engine closes an interval for the timeline.
//  4. Operations still running at the end get Drain to finish, then their
//     context is cancelled and they are counted as errors of kind
//     "unfinished": a hang is never hidden.
//  5. The Result carries the recorder, the measured window and a
//     metrics.Load describing the load that was really applied.
//
// HTTP clients give scenarios keep-alive connections sized to the load and
// turn non-2xx answers into StatusErrors, with HTTP 429 classified as
// rate-limited, never as throughput: FastClient (fasthttp, for high-rate
// plain requests; its connections make the syscalls of an event loop and
// it retries nothing but a connection that gave no byte of an answer) and
// NewHTTPClient with Get and Do (net/http, for streamed answers).
package load
