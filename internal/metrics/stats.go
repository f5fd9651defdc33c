package metrics

// JainIndex is Jain's fairness index of x: (sum x)^2 / (n * sum x^2), 1
// when all are equal, 1/n when one gets everything. It returns 0 for no
// values or all zeros.
func JainIndex(x []float64) float64 {
	var sum, sq float64
	for _, v := range x {
		sum += v
		sq += v * v
	}
	if len(x) == 0 || sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(x)) * sq)
}
