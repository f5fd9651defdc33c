package metrics

import "testing"

func TestKnee(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		tput, p99 []float64
		want      int
		ok        bool
	}{
		{"keeps scaling", []float64{100, 500, 2000}, []float64{1, 2, 3}, 0, false},
		{"knee at 10", []float64{100, 500, 520}, []float64{1, 2, 9}, 10, true},
		{"flat but p99 stable", []float64{100, 105, 106}, []float64{1, 1.2, 1.3}, 0, false},
		{"first knee wins", []float64{100, 101, 102}, []float64{1, 2, 10}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Knee([]int{1, 10, 50}, tt.tput, tt.p99)
			if got != tt.want || ok != tt.ok {
				t.Errorf("knee = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
