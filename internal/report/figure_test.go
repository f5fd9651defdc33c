package report

import "testing"

// Tick labels are short and never in exponent form: the axes of a report
// read "1e+03" and "2.5e+03" between 1,000 and 10,000.
func TestHumanTickLabels(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 0.05: "0.05", 0.00125: "0.00125", 2: "2", 750: "750", 1000: "1000", 2500: "2500",
		1234.5: "1230", 9990: "9990", 12500: "12.5k", 100000: "100k", 3e6: "3M", -2500: "-2500",
	} {
		if got := human(v); got != want {
			t.Errorf("human(%v) = %q, want %q", v, got, want)
		}
	}
}
