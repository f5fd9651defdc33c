package report

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// figure is a plot with its legend, drawn beside the plot rather than
// over its lines.
type figure struct {
	p           *plot.Plot
	legend      plot.Legend
	names       []string // the legend's entries
	title, file string
}

// newFigure returns a figure with sans-serif text throughout.
func newFigure(title, file string) *figure {
	p := plot.New()
	for _, f := range []*plotFont{
		{&p.Title.TextStyle.Font.Variant, &p.Title.TextStyle.Font.Size, 13},
		{&p.X.Label.TextStyle.Font.Variant, &p.X.Label.TextStyle.Font.Size, 11},
		{&p.Y.Label.TextStyle.Font.Variant, &p.Y.Label.TextStyle.Font.Size, 11},
		{&p.X.Tick.Label.Font.Variant, &p.X.Tick.Label.Font.Size, 10},
		{&p.Y.Tick.Label.Font.Variant, &p.Y.Tick.Label.Font.Size, 10},
	} {
		*f.variant, *f.size = "Sans", vg.Points(f.pt)
	}
	p.Title.Text = title
	l := plot.NewLegend()
	l.TextStyle.Font.Variant, l.TextStyle.Font.Size = "Sans", vg.Points(10)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(2)
	return &figure{p: p, legend: l, title: title, file: file}
}

type plotFont struct {
	variant *font.Variant
	size    *vg.Length
	pt      float64
}

// legendMax bounds a legend entry, in characters: series are named short.
const legendMax = 44

// line adds a series to the plot and the legend.
func (f *figure) line(i int, name string, pts plotter.XYs, dashed bool) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	f.p.Add(l)
	if name != "" {
		name = shortName(name, legendMax)
		f.legend.Add(name, l)
		f.names = append(f.names, name)
	}
	return nil
}

// shortName fits a series name into n characters, keeping both ends.
func shortName(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// render draws the plot with the legend to its right, as SVG whose text
// asks for a sans-serif font the browser has when it lacks Liberation.
func (f *figure) render() (*Chart, error) {
	w, h := 8*vg.Inch, 3.6*vg.Inch
	var legendW vg.Length
	if n := len(f.names); n > 0 {
		for _, e := range f.names {
			legendW = max(legendW, f.legend.TextStyle.Rectangle(e).Max.X)
		}
		legendW += f.legend.ThumbnailWidth + vg.Points(16)
		need := vg.Length(n)*(f.legend.TextStyle.Font.Size*1.25+f.legend.Padding) + vg.Points(30)
		h = max(h, need)
	}
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	f.p.Draw(draw.Crop(dc, 0, -legendW, 0, 0))
	if legendW > 0 {
		f.legend.Draw(draw.Crop(dc, w-legendW+vg.Points(8), 0, 0, -vg.Points(28)))
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	svg := strings.ReplaceAll(buf.String(), "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	return &Chart{Title: f.title, File: f.file, SVG: []byte(svg)}, nil
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

// integerTicks labels every whole number in range (cluster sizes).
type integerTicks struct{}

func (integerTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for v := math.Ceil(min); v <= max; v++ {
		out = append(out, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	return out
}

// nodesLabel is "1 node" or "n nodes".
func nodesLabel(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}
