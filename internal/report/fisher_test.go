package report

import (
	"math"
	"strings"
	"testing"
)

func TestFisherMoreFailures(t *testing.T) {
	for _, tt := range []struct {
		fb, nb, fc, nc int
		want           float64
	}{
		{0, 5, 0, 5, 1},
		{0, 5, 5, 5, 1.0 / 252},   // every current one failed: one arrangement of C(10,5)
		{1, 5, 5, 5, 5.0 / 210},   // 6 failures, 5 of them current: C(6,5)·C(4,0)/C(10,5)
		{0, 10, 1, 10, 0.5},       // one failure, equally likely on either side
		{0, 10, 4, 10, 0.0433437}, // C(16,6)/C(20,10)
		{3, 5, 1, 5, 0.97619},     // fewer now than before
	} {
		if got := fisherMoreFailures(tt.fb, tt.nb, tt.fc, tt.nc); math.Abs(got-tt.want) > 1e-5 {
			t.Errorf("fisher(%d/%d, %d/%d) = %.6f, want %.6f", tt.fb, tt.nb, tt.fc, tt.nc, got, tt.want)
		}
	}
}

func TestBenjaminiHochberg(t *testing.T) {
	// R's p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
	got := benjaminiHochberg([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.02, 0.04, 0.04, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("adjusted %v, want %v", got, want)
			break
		}
	}
}

func TestRepetitionsFor(t *testing.T) {
	for _, tt := range []struct {
		rows  int
		alpha float64
		want  int
	}{
		{6, 0.05, 5},  // 6·2/252 = 0.048
		{70, 0.01, 9}, // the ci profile's min_samples
		{1, 0.05, 4},
	} {
		if got := repetitionsFor(tt.rows, tt.alpha); got != tt.want {
			t.Errorf("repetitionsFor(%d, %g) = %d, want %d", tt.rows, tt.alpha, got, tt.want)
		}
	}
}

// The note on rows held back by the adjustment speaks only where the
// repetitions, not chance, held them: with 10 a side one clear row of 70
// passes, so a row of p 0.005 not passing is the adjustment at work;
// with 5 a side even a row that separates completely (p 0.0079) cannot.
func TestStarvedOnlyWhenRepetitionsAreShort(t *testing.T) {
	rows := func(n int, held float64) []Row {
		out := make([]Row, 70)
		for i := range out {
			p := 0.5
			out[i] = Row{P: &p, N1: n, N2: n, Verdict: NoChange}
		}
		out[3] = Row{P: &held, N1: n, N2: n, Verdict: Insignificant}
		return out
	}
	if got := starved(rows(10, 0.005), 0.01); got != "" {
		t.Errorf("10 a side: %q, want no note", got)
	}
	got := starved(rows(5, 2.0/252), 0.01)
	if !strings.Contains(got, "1 row(s) have p below alpha 0.01") || !strings.Contains(got, "with 5+5 repetitions") || !strings.Contains(got, "--count 9") {
		t.Errorf("5 a side: %q, want the row, its repetitions and --count 9", got)
	}
}
