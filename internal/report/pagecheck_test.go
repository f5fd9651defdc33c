package report

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"

	"github.com/odbench/odbench/internal/browsertest"
)

// pageProblems is JavaScript that lists what is wrong with a report page
// as drawn: a chart whose title is drawn twice (caption and SVG), text
// outside its SVG (a clipped legend), a series line outside its plot
// area, a linear y axis over data spanning more than tenfold (its tick
// labels evenly spaced), and a table cell or note cut short with "…".
const pageProblems = `(() => {
  const out = [];
  const num = s => { const m = s.trim().match(/^(-?[0-9.]+)([kM]?)$/); if (!m) return NaN;
    return parseFloat(m[1]) * ({k: 1e3, M: 1e6}[m[2]] || 1); };
  for (const fig of document.querySelectorAll("figure")) {
    const svg = fig.querySelector("svg");
    if (!svg) continue;
    const cap = fig.querySelector("figcaption").textContent.trim();
    const texts = [...svg.querySelectorAll("text")];
    if (texts.some(t => t.textContent.trim() === cap)) out.push("title twice: " + cap);
    const box = svg.getBoundingClientRect();
    for (const t of texts) {
      const r = t.getBoundingClientRect();
      if (r.width > 0 && (r.right > box.right + 1 || r.left < box.left - 1)) out.push("text outside its chart (" + cap + "): " + t.textContent);
    }
    const area = svg.querySelector('[data-role="plot-area"]');
    if (!area) { out.push("no plot area: " + cap); continue; }
    const a = area.getBoundingClientRect();
    for (const p of svg.querySelectorAll("path")) {
      const st = p.getAttribute("style") || "";
      if (!/stroke:#(?!000000)/i.test(st) || /fill:#/i.test(st)) continue; // series lines: coloured strokes, no fill
      if (/[AZ]/i.test(p.getAttribute("d"))) continue; // a dot (a closed glyph), not a line
      const r = p.getBoundingClientRect();
      if (r.left >= a.right - 1) continue; // the legend's samples
      if (r.left < a.left - 2 || r.right > a.right + 2 || r.top < a.top - 2 || r.bottom > a.bottom + 2) out.push("line outside its plot: " + cap);
    }
    const span = parseFloat(area.getAttribute("data-y-span"));
    if (span > 10) {
      const ticks = texts.filter(t => { const r = t.getBoundingClientRect();
          return r.right <= a.left + 1 && r.top >= a.top - 8 && r.bottom <= a.bottom + 8; })
        .map(t => num(t.textContent)).filter(v => !isNaN(v)).sort((x, y) => x - y);
      const steps = ticks.slice(1).map((v, i) => v - ticks[i]);
      const linear = steps.length >= 2 && steps.every(d => Math.abs(d - steps[0]) <= 1e-9 * Math.max(1, Math.abs(steps[0])));
      if (linear) out.push("linear axis over a " + span.toFixed(0) + "x span: " + cap);
    }
  }
  for (const el of document.querySelectorAll("td, ol.notes li")) {
    if (el.textContent.includes("…")) out.push("cut short: " + el.textContent);
  }
  return out;
})()`

// The checks above catch each fault they look for: a page made of one of
// each reports them all.
func TestPageChecksCatchBrokenCharts(t *testing.T) {
	b := browsertest.New(t, 60*time.Second)
	f := newFigure("broken", "broken.svg")
	f.p.X.Label.Text, f.p.Y.Label.Text = "x", "y"
	if err := f.line(0, "a series", plotter.XYs{{X: 1, Y: 1}, {X: 2, Y: 50}, {X: 3, Y: 400}}, false); err != nil {
		t.Fatal(err)
	}
	f.allowLogY = false // the fault: a linear axis over a 400x span
	c, err := f.render()
	if err != nil {
		t.Fatal(err)
	}
	svg := string(c.SVG[strings.Index(string(c.SVG), "<svg"):])
	// Further faults: the title inside the SVG, text past its right edge, a
	// line far outside the plot area.
	svg = strings.Replace(svg, "</svg>", `<text x="10" y="20">broken</text><text x="560" y="40">a legend entry cut off at the edge</text>`+
		`<path d="M5,5L560,250" style="fill:none;stroke:#4E79A7;stroke-width:1.5" /></svg>`, 1)
	page := `<!doctype html><html><body><main><figure><figcaption>broken</figcaption>` + svg +
		`</figure><table><tr><td>a note cut sh…</td></tr></table></main></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(page)) }))
	defer srv.Close()
	if err := b.Open(srv.URL, "figure"); err != nil {
		t.Fatal(err)
	}
	problems, err := browsertest.Eval[[]string](b, pageProblems)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{"title twice: broken", "text outside its chart (broken): a legend entry cut off", "line outside its plot: broken",
		"linear axis over a 400x span: broken", "cut short: a note cut sh…"} {
		if !strings.Contains(all, want) {
			t.Errorf("the checks missed %q; they found:\n%s", want, all)
		}
	}
}
