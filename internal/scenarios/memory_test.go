package scenarios

import (
	"strings"
	"testing"
	"time"
)

// TestLiveHeapSlope: a line through the live heap after each GC; samples
// taken before the target's first collection are skipped, not read as a
// target that reports no live heap.
func TestLiveHeapSlope(t *testing.T) {
	t0 := time.Unix(0, 0)
	var in []memSample
	for i := range 4 { // a fresh process: no GC yet
		in = append(in, memSample{at: t0.Add(time.Duration(i) * time.Second)})
	}
	for c := uint32(1); c <= 8; c++ { // then one cycle a second, 1 MB more each
		in = append(in, memSample{at: t0.Add(time.Duration(3+c) * time.Second), gcCycles: c, heapLive: uint64(10e6 + 1e6*float64(c))})
	}
	slope, why := liveHeapSlope(in)
	if why != "" || slope < 59.9 || slope > 60.1 {
		t.Errorf("slope %.2f MB/min (%q), want 60", slope, why)
	}

	if _, why := liveHeapSlope(in[:5]); !strings.Contains(why, "GC cycles") {
		t.Errorf("one collection: %q, want a reason about too few GC cycles", why)
	}
	noHeap := []memSample{{at: t0, gcCycles: 3}, {at: t0.Add(time.Second), gcCycles: 4}}
	if _, why := liveHeapSlope(noHeap); !strings.Contains(why, "reports no live heap") {
		t.Errorf("collections but no live heap: %q", why)
	}
}
