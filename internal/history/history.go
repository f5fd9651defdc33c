package history

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does.
type Kind uint8

const (
	Get Kind = iota
	Put
	CAS
)

func (k Kind) String() string {
	switch k {
	case Get:
		return "get"
	case Put:
		return "put"
	case CAS:
		return "cas"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Input is what a client asked.
type Input struct {
	Kind  Kind
	Key   string
	Value string // put, cas: the value written (unique per write)
	// Expect is the version a compare-and-set requires (0: the key must
	// not exist).
	Expect uint64
}

// Output is what the client was answered.
type Output struct {
	// Found, Value and Version are a get's answer; Version is also the
	// version a put or a successful compare-and-set created.
	Found   bool
	Value   string
	Version uint64
	// Conflict is a compare-and-set refused because the version differed;
	// Version is then the current one (0: the key does not exist).
	Conflict bool
	// Ambiguous is a write whose outcome is unknown: it may or may not
	// have been applied.
	Ambiguous bool
}

// Recorder collects a history; it is safe for concurrent use.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	amb   int
	keys  map[string]bool
}

// NewRecorder starts a history; times are taken from its start on the
// monotonic clock.
func NewRecorder() *Recorder {
	return &Recorder{start: time.Now(), keys: map[string]bool{}}
}

// Now is the timestamp to take right before sending an operation.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Add records an operation of client that was sent at call and has just
// been answered with out.
func (r *Recorder) Add(client int, in Input, call int64, out Output) {
	ret := r.Now()
	if out.Ambiguous {
		ret = math.MaxInt64 // it may take effect at any time after its call
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	if out.Ambiguous {
		r.amb++
	}
	r.keys[in.Key] = true
}

// Len is the number of operations recorded.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

// Verdict is the outcome of a check.
type Verdict string

const (
	Linearizable Verdict = "linearizable"
	Violation    Verdict = "violation"
	// Unknown: the checker ran out of time before it could decide.
	Unknown Verdict = "unknown"
)

// Result is what a check found.
type Result struct {
	Verdict    Verdict
	Operations int
	// Ambiguous counts writes whose outcome was unknown.
	Ambiguous int
	Keys      int
	Took      time.Duration
	// Visualization is the HTML file written on a violation ("" if none
	// was asked for or writing it failed: VisualizationErr says why).
	Visualization    string
	VisualizationErr error
}

// Check checks the history recorded so far, giving up after timeout (0:
// no bound). On a violation it writes porcupine's visualisation to visPath
// (when not empty), bounded by the same timeout again.
func (r *Recorder) Check(timeout time.Duration, visPath string) Result {
	r.mu.Lock()
	ops := append([]porcupine.Operation(nil), r.ops...)
	res := Result{Operations: len(ops), Ambiguous: r.amb, Keys: len(r.keys)}
	r.mu.Unlock()
	m := Model()
	began := time.Now()
	out := porcupine.CheckOperationsTimeout(m, ops, timeout)
	res.Took = time.Since(began)
	switch out {
	case porcupine.Ok:
		res.Verdict = Linearizable
	case porcupine.Illegal:
		res.Verdict = Violation
	default:
		res.Verdict = Unknown
	}
	if res.Verdict != Violation || visPath == "" {
		return res
	}
	// The verbose check explores every partition to its end to find the
	// longest linearizable prefixes; it is only worth it for a violation.
	again, info := porcupine.CheckOperationsVerbose(m, ops, timeout)
	if again != porcupine.Illegal {
		res.VisualizationErr = fmt.Errorf("the check for the visualisation ended %s", again)
		return res
	}
	if err := porcupine.VisualizePath(m, info, visPath); err != nil {
		res.VisualizationErr = err
		return res
	}
	res.Visualization = visPath
	return res
}
