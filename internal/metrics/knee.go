package metrics

// Knee returns the first concurrency level after which throughput grows
// less than 10% while p99 grows more than 50%: where adding clients stops
// buying throughput and starts costing latency. Levels, throughputs and
// p99s are in ascending level order.
func Knee(levels []int, tput, p99 []float64) (int, bool) {
	for i := 1; i < len(levels) && i < len(tput) && i < len(p99); i++ {
		if tput[i-1] > 0 && p99[i-1] > 0 && tput[i] < 1.10*tput[i-1] && p99[i] > 1.5*p99[i-1] {
			return levels[i-1], true
		}
	}
	return 0, false
}
