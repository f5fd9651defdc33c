package report

import (
	"fmt"
	"sort"
	"strings"

	"gonum.org/v1/plot/plotter"

	"github.com/odbench/odbench/internal/metrics"
)

// sweepRun is one scenario run that recorded a sweep.
type sweepRun struct {
	size  int
	name  string
	sweep *metrics.Sweep
}

// sweeps returns the category's scenario runs with a sweep, the first
// repetition of each scenario and size.
func (r *Report) sweeps(category string) []sweepRun {
	var out []sweepRun
	seen := map[string]bool{}
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			key := fmt.Sprint(c.Size, s.Name)
			if s.Category != category || s.Sweep == nil || len(s.Sweep.Points) == 0 || seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, sweepRun{size: c.Size, name: s.Name, sweep: s.Sweep})
		}
	}
	return out[:min(len(out), maxSeries)]
}

// sweepCharts draws a category's sweeps: capacity against cluster size,
// latency and goodput against the rate, and the Pareto front of
// per-user against whole-cluster token rates.
func (r *Report) sweepCharts(category string) ([]*figure, error) {
	runs := r.sweeps(category)
	if len(runs) == 0 {
		return nil, nil
	}
	var out []*figure
	for _, draw := range []func(string, []sweepRun) (*figure, error){r.capacityVsNodes, latencyVsRate, goodputVsRate, paretoFront} {
		f, err := draw(category, runs)
		if err != nil {
			return nil, err
		}
		if f != nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// capacityVsNodes plots each capacity search's result against cluster
// size, with the linear scaling from the smallest size dashed and the
// scaling efficiency in the legend.
func (r *Report) capacityVsNodes(category string, runs []sweepRun) (*figure, error) {
	by := map[string]map[int]float64{}
	for _, s := range runs {
		if s.sweep.Kind == "capacity" && s.sweep.Capacity != nil {
			if by[s.name] == nil {
				by[s.name] = map[int]float64{}
			}
			by[s.name][s.size] = *s.sweep.Capacity
		}
	}
	if len(by) == 0 {
		return nil, nil
	}
	f := newFigure(category+": capacity under the SLO against cluster size (dashed: linear scaling)", "capacity-vs-nodes-"+category+".svg").counts()
	f.p.X.Label.Text = "nodes"
	f.p.Y.Label.Text = "capacity (requests/s)"
	f.p.X.Tick.Marker = integerTicks{}
	names := sortedKeys(by)
	for i, name := range names {
		sizes := sortedKeys(by[name])
		base, c0 := sizes[0], by[name][sizes[0]]
		var pts, ideal plotter.XYs
		for _, n := range sizes {
			pts = append(pts, plotter.XY{X: float64(n), Y: by[name][n]})
			ideal = append(ideal, plotter.XY{X: float64(n), Y: c0 * float64(n) / float64(base)})
		}
		label := shortName(strings.TrimPrefix(name, category+"/"), 24)
		if last := sizes[len(sizes)-1]; last != base && c0 > 0 {
			label += fmt.Sprintf(": %.0f%% of linear at %d", 100*by[name][last]/(c0*float64(last)/float64(base)), last)
		}
		if err := f.line(i, label, pts, false); err != nil {
			return nil, err
		}
		if len(sizes) > 1 {
			if err := f.line(i, "", ideal, true); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// rateOf is a point's x: the offered rate of an open loop, or what a
// closed loop achieved.
func rateOf(p metrics.SweepPoint) float64 {
	if p.OfferedRPS > 0 {
		return p.OfferedRPS
	}
	return p.AchievedRPS
}

// sortedPoints returns the points with a completion, by rate.
func sortedPoints(s *metrics.Sweep) []metrics.SweepPoint {
	var pts []metrics.SweepPoint
	for _, p := range s.Points {
		if p.Completions > 0 {
			pts = append(pts, p)
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return rateOf(pts[i]) < rateOf(pts[j]) })
	return pts
}

// latencyVsRate plots TTFT (or, for requests that are not inference,
// end-to-end latency) p99 solid and p50 dashed against the rate.
func latencyVsRate(category string, runs []sweepRun) (*figure, error) {
	f := newFigure(category+": latency against the rate (p99 solid, p50 dashed)", "latency-vs-rate-"+category+".svg")
	f.p.X.Label.Text = "requests/s (offered; achieved for closed loops)"
	f.p.Y.Label.Text = "TTFT (ms; e2e where no TTFT)"
	for i, s := range runs {
		var p50, p99 plotter.XYs
		for _, p := range sortedPoints(s.sweep) {
			lo, hi := p.E2EP50Ns, p.E2EP99Ns
			if p.TTFTP99Ns != nil {
				lo, hi = *p.TTFTP50Ns, *p.TTFTP99Ns
			}
			p50 = append(p50, plotter.XY{X: rateOf(p), Y: float64(lo) / 1e6})
			p99 = append(p99, plotter.XY{X: rateOf(p), Y: float64(hi) / 1e6})
		}
		if len(p99) == 0 {
			continue
		}
		name := fmt.Sprintf("%s, %s", strings.TrimPrefix(s.name, category+"/"), nodesLabel(s.size))
		if err := f.line(i, name, p99, false); err != nil {
			return nil, err
		}
		if err := f.line(i, "", p50, true); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// goodputVsRate plots the requests per second that met every SLO
// against the rate, with what completed dashed.
func goodputVsRate(category string, runs []sweepRun) (*figure, error) {
	f := newFigure(category+": goodput against the rate (dashed: all completed)", "goodput-vs-rate-"+category+".svg").counts()
	f.p.X.Label.Text = "requests/s (offered; achieved for closed loops)"
	f.p.Y.Label.Text = "requests/s"
	drawn := false
	for i, s := range runs {
		var good, all plotter.XYs
		for _, p := range sortedPoints(s.sweep) {
			if p.GoodputRPS == nil {
				continue
			}
			good = append(good, plotter.XY{X: rateOf(p), Y: *p.GoodputRPS})
			all = append(all, plotter.XY{X: rateOf(p), Y: p.AchievedRPS})
		}
		if len(good) == 0 {
			continue
		}
		drawn = true
		if err := f.line(i, fmt.Sprintf("%s, %s", strings.TrimPrefix(s.name, category+"/"), nodesLabel(s.size)), good, false); err != nil {
			return nil, err
		}
		if err := f.line(i, "", all, true); err != nil {
			return nil, err
		}
	}
	if !drawn {
		return nil, nil
	}
	return f, nil
}

// paretoFront plots, across every sweep's points, the output tokens per
// second one user sees against those of the whole cluster: the points no
// other beats on both (the front) joined and solid, the rest faint.
func paretoFront(category string, runs []sweepRun) (*figure, error) {
	f := newFigure(category+": tokens/s per user against tokens/s of the cluster (faint: dominated)", "pareto-"+category+".svg").counts()
	f.p.X.Label.Text = "output tokens/s, whole cluster"
	f.p.Y.Label.Text = "output tokens/s, per user"
	drawn := false
	for i, s := range runs {
		var pts plotter.XYs
		for _, p := range s.sweep.Points {
			if p.OutputTokensPerS != nil && p.TokensPerSPerUser != nil {
				pts = append(pts, plotter.XY{X: *p.OutputTokensPerS, Y: *p.TokensPerSPerUser})
			}
		}
		if len(pts) == 0 {
			continue
		}
		drawn = true
		front, dominated := pareto(pts)
		if err := f.line(i, fmt.Sprintf("%s, %s", strings.TrimPrefix(s.name, category+"/"), nodesLabel(s.size)), front, false); err != nil {
			return nil, err
		}
		for _, set := range []struct {
			pts   plotter.XYs
			faint bool
		}{{front, false}, {dominated, true}} {
			if len(set.pts) > 0 {
				if err := f.dots(i, set.pts, 3, set.faint); err != nil {
					return nil, err
				}
			}
		}
	}
	if !drawn {
		return nil, nil
	}
	return f, nil
}

// pareto splits points into the front (none beats them on both x and y),
// by x, and the dominated rest.
func pareto(pts plotter.XYs) (front, dominated plotter.XYs) {
	for i, p := range pts {
		beaten := false
		for j, q := range pts {
			if i != j && q.X >= p.X && q.Y >= p.Y && (q.X > p.X || q.Y > p.Y) {
				beaten = true
				break
			}
		}
		if beaten {
			dominated = append(dominated, p)
		} else {
			front = append(front, p)
		}
	}
	sort.Slice(front, func(i, j int) bool { return front[i].X < front[j].X })
	return front, dominated
}

// sortedKeys returns a map's keys in order.
func sortedKeys[K int | string, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
