package report

import (
	"math"
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
