package report

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is one figure, as SVG.
type Chart struct {
	Title string `json:"title"`
	// File is a file name for the SVG (markdown links it).
	File string `json:"file"`
	// Category is the category the chart belongs to, shown after its
	// table; "" for a chart of the whole run.
	Category string `json:"category,omitempty"`
	SVG      []byte `json:"-"`
	// Note, for a chart not drawn, says why (SVG is then empty).
	Note string `json:"note,omitempty"`
}

// maxSeries bounds the series of one chart: the palette's colours.
const maxSeries = 10

// minKneeLevels is the fewest client counts a knee is computed from, and
// minTimelineSeconds the shortest measurement drawn as a timeline.
const (
	minKneeLevels      = 4
	minTimelineSeconds = 3
)

// Charts draws the report's figures, category by category: latency by
// percentile, throughput and latency against concurrency (the knee
// marked), throughput against cluster size (with linear scaling for
// comparison where it is expected), the sweeps' capacity, latency,
// goodput and Pareto front (sweepcharts.go), and the timelines of
// scenarios that recorded events.
func (r *Report) Charts() ([]Chart, error) {
	var out []Chart
	for _, cat := range r.Categories {
		for _, draw := range []func(string) (*figure, error){r.spectrum, r.throughputVsClients, r.latencyVsClients, r.scalingChart} {
			f, err := draw(cat.Category)
			if err != nil {
				return nil, err
			}
			if f == nil {
				continue
			}
			c, err := f.render()
			if err != nil {
				return nil, err
			}
			c.Category = cat.Category
			out = append(out, *c)
		}
		sweeps, err := r.sweepCharts(cat.Category)
		if err != nil {
			return nil, err
		}
		for _, f := range sweeps {
			c, err := f.render()
			if err != nil {
				return nil, err
			}
			c.Category = cat.Category
			out = append(out, *c)
		}
		timelines, err := r.timelines(cat.Category)
		if err != nil {
			return nil, err
		}
		out = append(out, timelines...)
	}
	return out, nil
}

// spectrumQuantiles are the percentiles of a latency spectrum.
var spectrumQuantiles = []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99}

// spectrum plots latency against percentile on HDR's "nines" axis (x =
// 1/(1-q), logarithmic) for the busiest operations of a category at its
// largest cluster size, from the stored histograms; latency is on a log
// axis when the series span more than tenfold.
func (r *Report) spectrum(category string) (*figure, error) {
	type series struct {
		name string
		op   metrics.Operation
	}
	var all []series
	largest := 0
	for _, c := range r.run.Clusters {
		largest = max(largest, c.Size)
	}
	for _, c := range r.run.Clusters {
		if c.Size != largest {
			continue
		}
		for _, s := range c.Scenarios {
			if s.Category != category || s.Status != metrics.StatusOK || s.Repetition > 1 {
				continue
			}
			for _, op := range s.Operations {
				if op.Count > 0 && op.Histogram != "" && op.WindowMs == 0 {
					name := strings.TrimPrefix(s.Name, category+"/")
					if len(s.Operations) > 1 {
						name += " · " + op.Name
					}
					all = append(all, series{name, op})
				}
			}
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].op.Count > all[j].op.Count })
	all = all[:min(len(all), maxSeries)]
	f := newFigure(fmt.Sprintf("%s: latency by percentile (%s)", category, nodesLabel(largest)), "spectrum-"+category+".svg")
	f.p.X.Label.Text = "percentile"
	f.p.Y.Label.Text = "latency (ms)"
	f.p.X.Scale = plot.LogScale{}
	f.p.X.Tick.Marker = percentileTicks{}
	lo, hi := math.Inf(1), 0.0
	var lines []plotter.XYs
	for _, s := range all {
		h, err := metrics.DecodeHistogram(s.op.Histogram)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		var pts plotter.XYs
		for _, q := range spectrumQuantiles {
			y := math.Max(float64(h.ValueAtQuantile(q))/1e6, 0.001) // a log axis needs y > 0
			pts = append(pts, plotter.XY{X: 1 / (1 - q/100), Y: y})
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
		lines = append(lines, pts)
	}
	for i, s := range all {
		if err := f.line(i, s.name, lines[i], false); err != nil {
			return nil, err
		}
	}
	return f, nil
}

var clientsRE = regexp.MustCompile(`(^|/)clients=(\d+)(/|$)`)

// family is one scenario at several client counts on one cluster size:
// its first operation's throughput, p50 and p99 by client count.
type family struct {
	name             string
	size             int
	tput, p50s, p99s map[int]float64
}

// families finds the closed-loop families of a category (scenarios whose
// names differ only in clients=N) that ran at two levels or more.
func (r *Report) families(category string) []*family {
	type key struct {
		name string
		size int
	}
	byKey := map[key]*family{}
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			m := clientsRE.FindStringSubmatch(s.Name)
			if s.Category != category || m == nil || s.Status != metrics.StatusOK || len(s.Operations) == 0 || s.Repetition > 1 {
				continue
			}
			n, _ := strconv.Atoi(m[2])
			k := key{strings.TrimPrefix(clientsRE.ReplaceAllString(s.Name, "${1}clients=N${3}"), category+"/"), c.Size}
			f := byKey[k]
			if f == nil {
				f = &family{name: k.name, size: k.size, tput: map[int]float64{}, p50s: map[int]float64{}, p99s: map[int]float64{}}
				byKey[k] = f
			}
			op := s.Operations[0]
			f.tput[n], f.p50s[n], f.p99s[n] = op.ThroughputOpsPerSec, ms(op.Latency.P50Ns), ms(op.Latency.P99Ns)
		}
	}
	var out []*family
	for _, f := range byKey {
		if len(f.tput) >= 2 {
			out = append(out, f)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].size != out[j].size {
			return out[i].size > out[j].size
		}
		return out[i].name < out[j].name
	})
	return out[:min(len(out), maxSeries)]
}

func (f *family) levels() []int {
	var xs []int
	for n := range f.tput {
		xs = append(xs, n)
	}
	sort.Ints(xs)
	return xs
}

func (f *family) points(by map[int]float64) plotter.XYs {
	var pts plotter.XYs
	for _, n := range f.levels() {
		pts = append(pts, plotter.XY{X: float64(n), Y: by[n]})
	}
	return pts
}

// knee is the family's knee (metrics.Knee), if it has one.
func (f *family) knee() (int, bool) {
	levels := f.levels()
	if len(levels) < minKneeLevels {
		return 0, false
	}
	var tput, p99 []float64
	for _, n := range levels {
		tput, p99 = append(tput, f.tput[n]), append(p99, f.p99s[n])
	}
	return metrics.Knee(levels, tput, p99)
}

func clientsAxis(p *plot.Plot) {
	p.X.Label.Text = "clients"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
}

// throughputVsClients plots the throughput of a category's closed-loop
// families against their client count.
func (r *Report) throughputVsClients(category string) (*figure, error) {
	fams := r.families(category)
	if len(fams) == 0 {
		return nil, nil
	}
	f := newFigure(category+": throughput against concurrency", "throughput-vs-clients-"+category+".svg").counts()
	clientsAxis(f.p)
	f.p.Y.Label.Text = "ops/s"
	for i, fam := range fams {
		if err := f.line(i, fmt.Sprintf("%s, %s", fam.name, nodesLabel(fam.size)), fam.points(fam.tput), false); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// latencyVsClients plots p50 (dashed) and p99 against client count, the
// knee of each family marked where throughput stopped growing while p99
// kept climbing.
func (r *Report) latencyVsClients(category string) (*figure, error) {
	fams := r.families(category)
	if len(fams) == 0 {
		return nil, nil
	}
	f := newFigure(category+": latency against concurrency (p99 solid, p50 dashed)", "latency-vs-clients-"+category+".svg")
	clientsAxis(f.p)
	f.p.Y.Label.Text = "latency (ms)"
	dotsOnly := true // series of fewer than three points are drawn as dots
	for _, fam := range fams {
		dotsOnly = dotsOnly && len(fam.points(fam.p99s)) < 3
	}
	if dotsOnly {
		f.title = category + ": latency against concurrency (p99 filled, p50 hollow)"
	}
	for i, fam := range fams {
		name := fmt.Sprintf("%s, %s", fam.name, nodesLabel(fam.size))
		if k, ok := fam.knee(); ok {
			name += fmt.Sprintf(" (knee at %d)", k)
			s, err := plotter.NewScatter(plotter.XYs{{X: float64(k), Y: fam.p99s[k]}})
			if err != nil {
				return nil, err
			}
			s.Color, s.Radius = colorOf(i), vg.Points(7)
			s.Shape = draw.PyramidGlyph{}
			f.p.Add(s)
		}
		if err := f.line(i, name, fam.points(fam.p99s), false); err != nil {
			return nil, err
		}
		if err := f.line(i, "", fam.points(fam.p50s), true); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// scalingChart plots a category's throughput against cluster size. Where
// scaling is expected (scalingExpected) the linear scaling from the
// smallest size is dashed beside a series and the legend gives the
// efficiency; elsewhere it gives T(n)/T(smallest).
func (r *Report) scalingChart(category string) (*figure, error) {
	var rows []ScalingRow
	for _, row := range r.Scalability {
		if strings.HasPrefix(row.Scenario, category+"/") {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return nil, nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Expected && !rows[j].Expected })
	rows = rows[:min(len(rows), maxSeries/2)]
	title := category + ": throughput against cluster size"
	if rows[0].Expected {
		title += " (dashed: linear scaling)"
	}
	f := newFigure(title, "throughput-vs-nodes-"+category+".svg").counts()
	f.p.X.Label.Text = "nodes"
	f.p.Y.Label.Text = "throughput (per second)"
	f.p.X.Tick.Marker = integerTicks{}
	for i, row := range rows {
		var sizes []int
		for s := range row.Throughput {
			sizes = append(sizes, s)
		}
		sort.Ints(sizes)
		base, t0 := sizes[0], row.Throughput[sizes[0]]
		var pts, ideal plotter.XYs
		for _, s := range sizes {
			pts = append(pts, plotter.XY{X: float64(s), Y: row.Throughput[s]})
			ideal = append(ideal, plotter.XY{X: float64(s), Y: t0 * float64(s) / float64(base)})
		}
		last := sizes[len(sizes)-1]
		name := shortName(strings.TrimPrefix(row.Scenario, category+"/"), 24)
		switch {
		case t0 <= 0 || last == base:
		case row.Expected:
			name += fmt.Sprintf(": %.0f%% of linear at %d", 100*row.Throughput[last]/(t0*float64(last)/float64(base)), last)
		default:
			name += fmt.Sprintf(": ×%.2f at %d", row.Throughput[last]/t0, last)
		}
		if err := f.line(i, name, pts, false); err != nil {
			return nil, err
		}
		if row.Expected {
			if err := f.line(i, "", ideal, true); err != nil {
				return nil, err
			}
		}
	}
	return f, nil
}

// timelines plots the per-second throughput of every scenario of a
// category that recorded events, shading the windows between "<x>_start"
// and "<x>_stop" events (faults) and marking single events.
func (r *Report) timelines(category string) ([]Chart, error) {
	var out []Chart
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			if s.Category != category || len(s.Events) == 0 || len(s.Operations) == 0 || len(s.Operations[0].Timeline) == 0 {
				continue
			}
			title := fmt.Sprintf("%s on %s: throughput per second", s.Name, nodesLabel(c.Size))
			if len(metrics.FaultWindows(s)) > 0 {
				title += " (shaded: faults)"
			}
			file := "timeline-" + fmt.Sprint(c.Size) + "-" + strings.NewReplacer("/", "_", "=", "-").Replace(s.Name) + ".svg"
			if secs := float64(s.MeasuredNs) / 1e9; secs < minTimelineSeconds {
				out = append(out, Chart{Title: title, File: file, Category: category,
					Note: fmt.Sprintf("Not drawn: the scenario measured %.1f s, and a timeline of per-second counts needs at least %d seconds.", secs, minTimelineSeconds)})
				continue
			}
			f := newFigure(title, file).counts()
			f.allowLogY = false // a dip and a peak on one scale
			f.p.X.Label.Text = "seconds into the measurement"
			f.p.Y.Label.Text = "ops/s"
			var ymax float64
			var lines []plotter.XYs
			var names []string
			for _, op := range s.Operations {
				if len(op.Timeline) == 0 || len(lines) == maxSeries {
					continue
				}
				var pts plotter.XYs
				for _, iv := range op.Timeline {
					if iv.DurationMs <= 0 {
						continue
					}
					y := float64(iv.Count) / (float64(iv.DurationMs) / 1000)
					ymax = math.Max(ymax, y)
					// At the interval's middle: its rate belongs to all of it.
					pts = append(pts, plotter.XY{X: float64(iv.EndOffsetMs-iv.DurationMs/2) / 1000, Y: y})
				}
				if len(pts) > 0 {
					lines, names = append(lines, pts), append(names, op.Name)
				}
			}
			// Events are timed from the scenario's start, the timeline from
			// its measured window's start. Shading goes under the lines.
			offset := float64(s.MeasureOffsetMs) / 1000
			open := map[string]float64{}
			for _, e := range s.Events {
				x := float64(e.OffsetMs)/1000 - offset
				switch {
				case strings.HasSuffix(e.Kind, "_start"):
					open[strings.TrimSuffix(e.Kind, "_start")] = x
				case strings.HasSuffix(e.Kind, "_stop"):
					base := strings.TrimSuffix(e.Kind, "_stop")
					if from, ok := open[base]; ok {
						if err := shade(f.p, from, x, ymax); err != nil {
							return nil, err
						}
						delete(open, base)
					}
				default:
					if err := mark(f.p, x, ymax); err != nil {
						return nil, err
					}
				}
			}
			for i := range lines {
				if err := f.line(i, names[i], lines[i], false); err != nil {
					return nil, err
				}
			}
			ch, err := f.render()
			if err != nil {
				return nil, err
			}
			ch.Category = category
			out = append(out, *ch)
		}
	}
	return out, nil
}

// faultShade is the color of a fault's window.
var faultShade = color.NRGBA{R: 230, G: 140, B: 20, A: 46}

func shade(p *plot.Plot, from, to, ymax float64) error {
	poly, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: 0}, {X: to, Y: 0}, {X: to, Y: ymax}, {X: from, Y: ymax}})
	if err != nil {
		return err
	}
	poly.Color = faultShade
	poly.LineStyle.Width = 0
	p.Add(poly)
	return nil
}

func mark(p *plot.Plot, x, ymax float64) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
	if err != nil {
		return err
	}
	l.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(l)
	return nil
}
