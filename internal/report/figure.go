package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// palette is Tableau 10: ten colours told apart also by most colour-blind
// readers; a chart draws at most maxSeries series.
var palette = []color.NRGBA{
	{0x4e, 0x79, 0xa7, 0xff}, {0xf2, 0x8e, 0x2b, 0xff}, {0xe1, 0x57, 0x59, 0xff}, {0x76, 0xb7, 0xb2, 0xff},
	{0x59, 0xa1, 0x4f, 0xff}, {0xed, 0xc9, 0x48, 0xff}, {0xb0, 0x7a, 0xa1, 0xff}, {0xff, 0x9d, 0xa7, 0xff},
	{0x9c, 0x75, 0x5f, 0xff}, {0xba, 0xb0, 0xac, 0xff},
}

// colorOf is series i's colour.
func colorOf(i int) color.NRGBA { return palette[i%len(palette)] }

// figure is a plot with its legend, drawn beside the plot rather than
// over its lines. Its title is the page's caption, not drawn in the SVG.
type figure struct {
	p           *plot.Plot
	legend      plot.Legend
	names       []string // the legend's entries
	title, file string
	// y is how the y axis is chosen at render: logY when the series span
	// more than tenfold (and allowed), else linear, from 0 when zeroY.
	allowLogY, zeroY bool
	ylo, yhi         float64 // the positive y values drawn
	xlo, xhi         float64
}

// newFigure returns a figure with sans-serif text throughout; its y axis
// goes logarithmic when the series span more than tenfold.
func newFigure(title, file string) *figure {
	p := plot.New()
	for _, f := range []*plotFont{
		{&p.X.Label.TextStyle.Font.Variant, &p.X.Label.TextStyle.Font.Size, 11},
		{&p.Y.Label.TextStyle.Font.Variant, &p.Y.Label.TextStyle.Font.Size, 11},
		{&p.X.Tick.Label.Font.Variant, &p.X.Tick.Label.Font.Size, 10},
		{&p.Y.Tick.Label.Font.Variant, &p.Y.Tick.Label.Font.Size, 10},
	} {
		*f.variant, *f.size = "Sans", vg.Points(f.pt)
	}
	l := plot.NewLegend()
	l.TextStyle.Font.Variant, l.TextStyle.Font.Size = "Sans", vg.Points(10)
	l.Top, l.Left = true, true
	l.Padding = vg.Points(2)
	return &figure{p: p, legend: l, title: title, file: file, allowLogY: true, ylo: math.Inf(1), xlo: math.Inf(1)}
}

// counts makes the y axis a count or a rate: linear from 0 unless the
// series span more than tenfold.
func (f *figure) counts() *figure {
	f.zeroY = true
	return f
}

type plotFont struct {
	variant *font.Variant
	size    *vg.Length
	pt      float64
}

// legendMax bounds a legend entry, in characters: series are named short.
const legendMax = 40

// note widens the ranges the axes are chosen from.
func (f *figure) note(pts plotter.XYs) {
	for _, p := range pts {
		if p.Y > 0 {
			f.ylo = math.Min(f.ylo, p.Y)
		}
		f.yhi = math.Max(f.yhi, p.Y)
		f.xlo, f.xhi = math.Min(f.xlo, p.X), math.Max(f.xhi, p.X)
	}
}

// line adds a series: a line, or, with fewer than three points, dots (two
// points make no curve worth reading).
func (f *figure) line(i int, name string, pts plotter.XYs, dashed bool) error {
	f.note(pts)
	var thumb plot.Thumbnailer
	if len(pts) < 3 {
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		s.Color, s.Radius, s.Shape = colorOf(i), vg.Points(4), draw.CircleGlyph{}
		if dashed { // the dashed series of a pair (p50 beside p99): hollow dots
			s.Shape = draw.RingGlyph{}
		}
		f.p.Add(s)
		thumb = s
	} else {
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = colorOf(i)
		l.Width = vg.Points(1.5)
		if dashed {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		f.p.Add(l)
		thumb = l
	}
	if name != "" {
		name = shortName(name, legendMax)
		f.legend.Add(name, thumb)
		f.names = append(f.names, name)
	}
	return nil
}

// dots adds points as dots in series i's colour (faint when asked).
func (f *figure) dots(i int, pts plotter.XYs, radius float64, faint bool) error {
	f.note(pts)
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	c := colorOf(i)
	if faint {
		c.A = 70
	}
	s.Color, s.Radius = c, vg.Points(radius)
	s.Shape = draw.CircleGlyph{}
	f.p.Add(s)
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

// axes chooses the y axis from what was drawn: logarithmic over more than
// a tenfold span, else linear (from 0 for counts), with room above the
// highest point so no line runs along the frame; ticks read as numbers.
func (f *figure) axes() (logY bool) {
	if f.yhi <= 0 || math.IsInf(f.ylo, 1) {
		return false
	}
	if f.allowLogY && f.yhi > 10*f.ylo {
		f.p.Y.Scale = plot.LogScale{}
		f.p.Y.Tick.Marker = logTicks{}
		f.p.Y.Min, f.p.Y.Max = f.ylo/1.3, f.yhi*1.3
		return true
	}
	if f.zeroY {
		f.p.Y.Min = 0
	}
	f.p.Y.Max = f.yhi * 1.08
	if _, ok := f.p.Y.Tick.Marker.(plot.DefaultTicks); ok {
		f.p.Y.Tick.Marker = numberTicks{}
	}
	return false
}

// render draws the plot with the legend to its right, as SVG whose text
// asks for a sans-serif font the browser has when it lacks Liberation.
// The SVG carries the data area (a transparent rect, data-role
// "plot-area") and the y scale and span drawn, for the browser tests.
func (f *figure) render() (*Chart, error) {
	logY := f.axes()
	if _, ok := f.p.X.Tick.Marker.(plot.DefaultTicks); ok {
		f.p.X.Tick.Marker = numberTicks{}
	}
	w, h := 8*vg.Inch, 3.6*vg.Inch
	var legendW vg.Length
	if n := len(f.names); n > 0 {
		for _, e := range f.names {
			legendW = max(legendW, f.legend.TextStyle.Rectangle(e).Max.X)
		}
		// Browsers lay text out in their own fonts: leave room for wider glyphs.
		legendW = legendW*1.15 + f.legend.ThumbnailWidth + vg.Points(20)
		need := vg.Length(n)*(f.legend.TextStyle.Font.Size*1.25+f.legend.Padding) + vg.Points(30)
		h = max(h, need)
	}
	c := vgsvg.New(w, h)
	dc := draw.New(c)
	// A margin: browsers' glyphs of the rotated y label reach past gonum's.
	plotCanvas := draw.Crop(dc, vg.Points(4), -legendW, vg.Points(4), 0)
	f.p.Draw(plotCanvas)
	area := f.p.DataCanvas(plotCanvas).Rectangle
	if legendW > 0 {
		f.legend.Draw(draw.Crop(dc, w-legendW+vg.Points(8), 0, 0, -vg.Points(8)))
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	svg := strings.ReplaceAll(buf.String(), "font-family:Liberation Sans;", "font-family:'Liberation Sans',Arial,Helvetica,sans-serif;")
	scale := "linear"
	if logY {
		scale = "log"
	}
	span := 0.0
	if f.ylo > 0 && !math.IsInf(f.ylo, 1) {
		span = f.yhi / f.ylo
	}
	marker := fmt.Sprintf(`<rect data-role="plot-area" data-y-scale="%s" data-y-span="%.4g" x="%.2f" y="%.2f" width="%.2f" height="%.2f" style="fill:none;stroke:none" />`,
		scale, span, area.Min.X.Points(), area.Min.Y.Points(), area.Size().X.Points(), area.Size().Y.Points())
	if i := strings.Index(svg, ">\n<path"); i > 0 { // inside the flipped group, in the paths' coordinates
		svg = svg[:i+2] + marker + "\n" + svg[i+2:]
	}
	return &Chart{Title: f.title, File: f.file, SVG: []byte(svg)}, nil
}

// numberTicks are gonum's default ticks labelled as numbers read
// (12.5k, 0.25), not as fixed decimals (12500.00).
type numberTicks struct{}

func (numberTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = human(ticks[i].Value)
		}
	}
	return ticks
}

// logTicks label every power of ten in range, and 2 and 5 times them
// when fewer than three powers fall in it.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	mults := []float64{1}
	if hi-lo < 3 {
		mults = []float64{1, 2, 5}
	}
	for e := lo; e <= hi; e++ {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if v >= min && v <= max {
				out = append(out, plot.Tick{Value: v, Label: human(v)})
			}
		}
	}
	return out
}

// human prints a tick value short, to three significant digits and never
// in exponent form: 0.05, 2, 750, 2500, 12.5k, 3M.
func human(v float64) string {
	a := math.Abs(v)
	suffix := ""
	switch {
	case a >= 1e6:
		v, suffix = v/1e6, "M"
	case a >= 1e4:
		v, suffix = v/1e3, "k"
	case a == 0:
		return "0"
	}
	rounded, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return strconv.FormatFloat(rounded, 'f', -1, 64) + suffix
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
