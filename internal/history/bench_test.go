package history

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// simulate records n operations of `clients` goroutines against an
// in-memory linearizable store of `keys` versioned registers, a share of
// the writes recorded as ambiguous (half of those applied).
func simulate(n, clients, keys int, ambiguousPct float64) *Recorder {
	r := NewRecorder()
	var mu sync.Mutex
	type reg struct {
		v   string
		ver uint64
	}
	store := map[string]reg{}
	var index uint64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			seen := map[string]uint64{}
			for i := range n / clients {
				k := fmt.Sprint("k", rng.IntN(keys))
				in := Input{Key: k, Value: fmt.Sprintf("c%d-%d", c, i)}
				switch p := rng.IntN(10); {
				case p < 4:
					in.Kind, in.Value = Get, ""
				case p < 7:
					in.Kind = Put
				default:
					in.Kind, in.Expect = CAS, seen[k]
				}
				call := r.Now()
				amb := in.Kind != Get && rng.Float64()*100 < ambiguousPct
				var out Output
				mu.Lock()
				cur, ok := store[k]
				switch in.Kind {
				case Get:
					out = Output{Found: ok, Value: cur.v, Version: cur.ver}
				case Put:
					index++
					store[k] = reg{in.Value, index}
					out = Output{Version: index}
				case CAS:
					if (in.Expect == 0 && !ok) || (ok && cur.ver == in.Expect) {
						if !amb || rng.IntN(2) == 0 {
							index++
							store[k] = reg{in.Value, index}
							out = Output{Version: index}
						}
					} else {
						out = Output{Conflict: true, Version: cur.ver}
					}
				}
				mu.Unlock()
				if amb {
					out = Output{Ambiguous: true}
				} else {
					seen[k] = out.Version
				}
				r.Add(c, in, call, out)
			}
		}()
	}
	wg.Wait()
	return r
}

// BenchmarkCheck prints how long porcupine takes for histories of the
// sizes the fault scenarios record (800 operations per second).
func BenchmarkCheck(b *testing.B) {
	for _, n := range []int{10_000, 50_000, 200_000} {
		r := simulate(n, 8, 8, 1)
		b.Run(fmt.Sprint("ops=", n), func(b *testing.B) {
			for b.Loop() {
				if res := r.Check(0, ""); res.Verdict != Linearizable {
					b.Fatalf("verdict %s", res.Verdict)
				}
			}
		})
	}
}

func TestSimulatedHistoryIsLinearizable(t *testing.T) {
	if res := simulate(4000, 8, 4, 2).Check(0, ""); res.Verdict != Linearizable {
		t.Fatalf("a history of a linearizable store: %s", res.Verdict)
	}
}
