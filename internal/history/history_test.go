package history

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// op builds a history entry with explicit times; ret < 0 is open (ambiguous).
func op(client int, call, ret int64, in Input, out Output) porcupine.Operation {
	if ret < 0 {
		ret = math.MaxInt64
	}
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret}
}

func put(k, v string) Input                  { return Input{Kind: Put, Key: k, Value: v} }
func get(k string) Input                     { return Input{Kind: Get, Key: k} }
func cas(k string, e uint64, v string) Input { return Input{Kind: CAS, Key: k, Value: v, Expect: e} }
func ok(ver uint64) Output                   { return Output{Version: ver} }
func saw(v string, ver uint64) Output        { return Output{Found: true, Value: v, Version: ver} }

var absent = Output{}
var unsure = Output{Ambiguous: true}

func TestModel(t *testing.T) {
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want bool
	}{
		{"sequential put then get", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(1, 20, 30, get("a"), saw("x", 5)),
		}, true},
		{"stale read after a completed write", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(0, 20, 30, put("a", "y"), ok(6)),
			op(1, 40, 50, get("a"), saw("x", 5)),
		}, false},
		{"read concurrent with a write may see either", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(0, 20, 60, put("a", "y"), ok(6)),
			op(1, 30, 40, get("a"), saw("x", 5)),
			op(2, 45, 50, get("a"), saw("y", 6)),
		}, true},
		{"a read cannot go back in time", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(0, 20, 60, put("a", "y"), ok(6)),
			op(1, 30, 40, get("a"), saw("y", 6)),
			op(2, 45, 50, get("a"), saw("x", 5)),
		}, false},
		{"an acknowledged write that vanished", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(1, 20, 30, get("a"), absent),
		}, false},
		{"an ambiguous put seen later", []porcupine.Operation{
			op(0, 0, -1, put("a", "x"), unsure),
			op(1, 20, 30, get("a"), saw("x", 7)),
			op(1, 40, 50, cas("a", 7, "z"), ok(8)),
		}, true},
		{"an ambiguous put never seen", []porcupine.Operation{
			op(0, 0, -1, put("a", "x"), unsure),
			op(1, 20, 30, get("a"), absent),
		}, true},
		{"an ambiguous put's version learnt from a conflict", []porcupine.Operation{
			op(0, 0, -1, put("a", "x"), unsure),
			op(1, 20, 30, cas("a", 3, "z"), Output{Conflict: true, Version: 7}),
			op(1, 40, 50, get("a"), saw("x", 7)),
		}, true},
		{"cas succeeds on its version", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(0, 20, 30, cas("a", 5, "y"), ok(6)),
			op(1, 40, 50, get("a"), saw("y", 6)),
		}, true},
		{"cas cannot succeed on an old version", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(0, 20, 30, put("a", "y"), ok(6)),
			op(1, 40, 50, cas("a", 5, "z"), ok(7)),
		}, false},
		{"cas conflict must name the current version", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(1, 40, 50, cas("a", 4, "z"), Output{Conflict: true, Version: 9}),
		}, false},
		{"cas on an absent key with expect 0", []porcupine.Operation{
			op(0, 0, 10, cas("a", 0, "x"), ok(3)),
			op(1, 20, 30, cas("a", 0, "y"), Output{Conflict: true, Version: 3}),
		}, true},
		{"an ambiguous cas that did not apply", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(0, 20, -1, cas("a", 5, "y"), unsure),
			op(1, 40, 50, get("a"), saw("x", 5)),
		}, true},
		{"keys are independent", []porcupine.Operation{
			op(0, 0, 10, put("a", "x"), ok(5)),
			op(1, 20, 30, get("b"), absent),
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := porcupine.CheckOperations(Model(), c.ops); got != c.want {
				t.Errorf("linearizable = %v, want %v", got, c.want)
			}
		})
	}
}

func TestRecorderCheckWritesVisualizationOnViolation(t *testing.T) {
	r := NewRecorder()
	c := r.Now()
	r.Add(0, put("a", "x"), c, ok(5))
	c = r.Now()
	r.Add(0, put("a", "y"), c, ok(6))
	c = r.Now()
	r.Add(1, get("a"), c, saw("x", 5))
	c = r.Now()
	r.Add(1, put("b", "q"), c, unsure)

	vis := filepath.Join(t.TempDir(), "violation.html")
	res := r.Check(0, vis)
	if res.Verdict != Violation {
		t.Fatalf("verdict %s, want violation", res.Verdict)
	}
	if res.Operations != 4 || res.Ambiguous != 1 || res.Keys != 2 {
		t.Errorf("counted %d operations, %d ambiguous, %d keys; want 4, 1, 2", res.Operations, res.Ambiguous, res.Keys)
	}
	if res.Visualization != vis || res.VisualizationErr != nil {
		t.Fatalf("visualization %q (%v), want %q", res.Visualization, res.VisualizationErr, vis)
	}
	b, err := os.ReadFile(vis)
	if err != nil || !strings.Contains(string(b), "<html") {
		t.Fatalf("visualization file: %v, %d bytes", err, len(b))
	}
}

func TestRecorderCheckLinearizable(t *testing.T) {
	r := NewRecorder()
	for i := range 100 {
		c := r.Now()
		r.Add(i%4, put("k", string(rune('a'+i%26))), c, ok(uint64(i+1)))
		c = r.Now()
		r.Add(i%4, get("k"), c, saw(string(rune('a'+i%26)), uint64(i+1)))
	}
	vis := filepath.Join(t.TempDir(), "none.html")
	res := r.Check(0, vis)
	if res.Verdict != Linearizable || res.Visualization != "" {
		t.Fatalf("verdict %s, visualization %q; want linearizable and none", res.Verdict, res.Visualization)
	}
	if _, err := os.Stat(vis); !os.IsNotExist(err) {
		t.Errorf("a linearizable history wrote a visualization: %v", err)
	}
}
