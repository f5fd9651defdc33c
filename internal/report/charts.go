package report

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart is one figure, as SVG.
type Chart struct {
	Title string `json:"title"`
	// File is a file name for the SVG (markdown links it).
	File string `json:"file"`
	SVG  []byte `json:"-"`
}

const maxSeries = 8

// Charts draws the report's figures.
func (r *Report) Charts() ([]Chart, error) {
	var out []Chart
	add := func(c *Chart, err error) error {
		if err != nil {
			return err
		}
		if c != nil {
			out = append(out, *c)
		}
		return nil
	}
	for _, cat := range r.Categories {
		if err := add(r.spectrum(cat.Category)); err != nil {
			return nil, err
		}
	}
	if err := add(r.concurrencyCharts("throughput")); err != nil {
		return nil, err
	}
	if err := add(r.concurrencyCharts("p99")); err != nil {
		return nil, err
	}
	if err := add(r.scalingChart()); err != nil {
		return nil, err
	}
	timelines, err := r.timelines()
	if err != nil {
		return nil, err
	}
	return append(out, timelines...), nil
}

func render(p *plot.Plot, title, file string) (*Chart, error) {
	p.Title.Text = title
	p.Legend.Top, p.Legend.Left = true, true
	var buf bytes.Buffer
	w, err := p.WriterTo(7*vg.Inch, 4*vg.Inch, "svg")
	if err != nil {
		return nil, err
	}
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return &Chart{Title: title, File: file, SVG: buf.Bytes()}, nil
}

func addLine(p *plot.Plot, i int, name string, pts plotter.XYs) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	l.Dashes = plotutil.Dashes(i / 7)
	l.Width = vg.Points(1.5)
	p.Add(l)
	p.Legend.Add(name, l)
	return nil
}

// spectrumQuantiles are the percentiles of a latency spectrum.
var spectrumQuantiles = []float64{0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99}

// spectrum plots latency against percentile (HDR style: x = 1/(1-q) on a
// log axis) for the busiest operations of a category at its largest
// cluster size, from the stored histograms.
func (r *Report) spectrum(category string) (*Chart, error) {
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
				if op.Count > 0 && op.Histogram != "" {
					all = append(all, series{strings.TrimPrefix(s.Name, category+"/") + " · " + op.Name, op})
				}
			}
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].op.Count > all[j].op.Count })
	all = all[:min(len(all), maxSeries)]
	p := plot.New()
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = percentileTicks{}
	for i, s := range all {
		h, err := metrics.DecodeHistogram(s.op.Histogram)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		var pts plotter.XYs
		for _, q := range spectrumQuantiles {
			pts = append(pts, plotter.XY{X: 1 / (1 - q/100), Y: float64(h.ValueAtQuantile(q)) / 1e6})
		}
		if err := addLine(p, i, s.name, pts); err != nil {
			return nil, err
		}
	}
	return render(p, fmt.Sprintf("%s: latency by percentile (%d nodes)", category, largest), "spectrum-"+category+".svg")
}

// percentileTicks labels a 1/(1-q) axis with percentiles.
type percentileTicks struct{}

func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for _, q := range []float64{0, 90, 99, 99.9, 99.99} {
		x := 1 / (1 - q/100)
		if x >= min && x <= max*1.0001 {
			out = append(out, plot.Tick{Value: x, Label: strconv.FormatFloat(q, 'f', -1, 64) + "%"})
		}
	}
	return out
}

var clientsRE = regexp.MustCompile(`(^|/)clients=(\d+)(/|$)`)

// concurrencyCharts plots throughput or p99 against the client count of
// scenario families that ran at several levels (same name but clients=N).
func (r *Report) concurrencyCharts(metric string) (*Chart, error) {
	type key struct {
		family string
		size   int
	}
	fam := map[key]map[int]float64{}
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			m := clientsRE.FindStringSubmatch(s.Name)
			if m == nil || s.Status != metrics.StatusOK || len(s.Operations) == 0 || s.Repetition > 1 {
				continue
			}
			n, _ := strconv.Atoi(m[2])
			k := key{clientsRE.ReplaceAllString(s.Name, "${1}clients=N${3}"), c.Size}
			if fam[k] == nil {
				fam[k] = map[int]float64{}
			}
			op := s.Operations[0]
			if metric == "throughput" {
				fam[k][n] = op.ThroughputOpsPerSec
			} else {
				fam[k][n] = ms(op.Latency.P99Ns)
			}
		}
	}
	var keys []key
	for k, pts := range fam {
		if len(pts) >= 2 {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].size != keys[j].size {
			return keys[i].size > keys[j].size
		}
		return keys[i].family < keys[j].family
	})
	keys = keys[:min(len(keys), maxSeries)]
	p := plot.New()
	p.X.Label.Text = "clients"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	title, file := "throughput against concurrency", "throughput-vs-clients.svg"
	p.Y.Label.Text = "ops/s"
	if metric == "p99" {
		title, file = "p99 latency against concurrency", "p99-vs-clients.svg"
		p.Y.Label.Text = "p99 (ms)"
	}
	for i, k := range keys {
		var xs []int
		for n := range fam[k] {
			xs = append(xs, n)
		}
		sort.Ints(xs)
		var pts plotter.XYs
		for _, n := range xs {
			pts = append(pts, plotter.XY{X: float64(n), Y: fam[k][n]})
		}
		if err := addLine(p, i, fmt.Sprintf("%s (%d nodes)", k.family, k.size), pts); err != nil {
			return nil, err
		}
	}
	return render(p, title, file)
}

// scalingChart plots throughput against cluster size.
func (r *Report) scalingChart() (*Chart, error) {
	rows := append([]ScalingRow(nil), r.Scalability...)
	if len(rows) == 0 {
		return nil, nil
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Expected && !rows[j].Expected })
	rows = rows[:min(len(rows), maxSeries)]
	p := plot.New()
	p.X.Label.Text = "nodes"
	p.Y.Label.Text = "throughput (per second)"
	for i, row := range rows {
		var sizes []int
		for s := range row.Throughput {
			sizes = append(sizes, s)
		}
		sort.Ints(sizes)
		var pts plotter.XYs
		for _, s := range sizes {
			pts = append(pts, plotter.XY{X: float64(s), Y: row.Throughput[s]})
		}
		if err := addLine(p, i, row.Scenario, pts); err != nil {
			return nil, err
		}
	}
	return render(p, "throughput against cluster size", "throughput-vs-nodes.svg")
}

// timelines plots the per-second throughput of every scenario that
// recorded events, shading the windows between "<x>_start" and "<x>_stop"
// events (faults) and marking single events.
func (r *Report) timelines() ([]Chart, error) {
	var out []Chart
	for _, c := range r.run.Clusters {
		for _, s := range c.Scenarios {
			if len(s.Events) == 0 || len(s.Operations) == 0 || len(s.Operations[0].Timeline) == 0 {
				continue
			}
			p := plot.New()
			p.X.Label.Text = "seconds into the measurement"
			p.Y.Label.Text = "ops/s"
			var ymax float64
			for i, op := range s.Operations[:min(len(s.Operations), maxSeries)] {
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
				if len(pts) == 0 {
					continue
				}
				if err := addLine(p, i, op.Name, pts); err != nil {
					return nil, err
				}
			}
			// Events are timed from the scenario's start, the timeline from
			// its measured window's start.
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
						if err := shade(p, from, x, ymax); err != nil {
							return nil, err
						}
						delete(open, base)
					}
				default:
					if err := mark(p, x, ymax); err != nil {
						return nil, err
					}
				}
			}
			ch, err := render(p, fmt.Sprintf("%s on %d nodes: throughput per second", s.Name, c.Size),
				"timeline-"+fmt.Sprint(c.Size)+"-"+strings.NewReplacer("/", "_", "=", "-").Replace(s.Name)+".svg")
			if err != nil {
				return nil, err
			}
			out = append(out, *ch)
		}
	}
	return out, nil
}

func shade(p *plot.Plot, from, to, ymax float64) error {
	poly, err := plotter.NewPolygon(plotter.XYs{{X: from, Y: 0}, {X: to, Y: 0}, {X: to, Y: ymax}, {X: from, Y: ymax}})
	if err != nil {
		return err
	}
	poly.Color = plotutil.Color(1)
	poly.Color = fade(poly.Color)
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
