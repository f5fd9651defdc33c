package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
)

// section is one titled part of a report: prose lines and/or a table,
// and the charts of its category (placed by withCharts).
type section struct {
	Title string
	Lines []string
	Head  []string
	Rows  [][]string
	// Notes are the table's footnotes, in full: a row's cell holds "[n]".
	Notes    []string
	category string
	Charts   []Chart
}

// ID is the section's anchor.
func (s section) ID() string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return '-'
	}, s.Title), "-")
}

// footnote returns the reference of text among s's notes ("" for none),
// adding it once.
func (s *section) footnote(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if text == "" {
		return ""
	}
	for i, n := range s.Notes {
		if n == text {
			return fmt.Sprintf("[%d]", i+1)
		}
	}
	s.Notes = append(s.Notes, text)
	return fmt.Sprintf("[%d]", len(s.Notes))
}

// withCharts places each chart after its category's table; charts of no
// category (or of one without a table) go into a Charts section at the end.
func withCharts(sections []section, charts []Chart) []section {
	placed := map[int]bool{}
	for i := range sections {
		for j, c := range charts {
			if c.Category != "" && c.Category == sections[i].category {
				sections[i].Charts = append(sections[i].Charts, c)
				placed[j] = true
			}
		}
	}
	rest := section{Title: "Charts"}
	for j, c := range charts {
		if !placed[j] {
			rest.Charts = append(rest.Charts, c)
		}
	}
	if len(rest.Charts) > 0 {
		sections = append(sections, rest)
	}
	return sections
}

func f0(v float64) string { return fmt.Sprintf("%.0f", v) }
func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

// sections lays the report out, in order.
func (r *Report) sections() []section {
	var out []section
	sys := section{Title: "System Information", Head: []string{"", ""}}
	for _, kv := range r.System {
		sys.Rows = append(sys.Rows, []string{kv.Key, kv.Value})
	}
	out = append(out, sys, section{Title: "Key Findings", Lines: r.Findings})
	for _, cat := range r.Categories {
		s := section{Title: "Category: " + cat.Category, category: cat.Category, Head: []string{"nodes", "scenario", "#", "status", "operation", "ops/s", "p50 ms", "p95 ms", "p99 ms", "errors %", "note"}}
		for _, row := range cat.Rows {
			s.Rows = append(s.Rows, []string{fmt.Sprint(row.Size), row.Scenario, fmt.Sprint(row.Repetition), row.Status, row.Operation,
				f0(row.OpsPerSec), f2(row.P50Ms), f2(row.P95Ms), f2(row.P99Ms), f2(row.ErrorPct), s.footnote(row.Note)})
		}
		for _, sk := range cat.Skipped {
			s.Lines = append(s.Lines, fmt.Sprintf("skipped on %d nodes: %s: %s", sk.Size, sk.Scenario, sk.Reason))
		}
		out = append(out, s)
	}
	sc := section{Title: "Scalability Analysis", Lines: []string{
		"Throughput T(n) per cluster size of every closed-loop scenario that ran on several sizes (an open loop's throughput is its rate). Where scaling is expected (loadbalance/saturation loads every node's inference slots), efficiency is T(n) / (n · T(1)), and 100% is linear scaling. Elsewhere only T(n)/T(1) is shown: a fixed client count sets its own throughput, consensus writes go through one leader, and on one host all nodes share its CPU."}}
	sizes := r.sizes()
	sc.Head = []string{"scenario", "metric"}
	for _, n := range sizes {
		sc.Head = append(sc.Head, fmt.Sprintf("%d nodes", n))
	}
	sc.Head = append(sc.Head, "scaling")
	for _, row := range r.Scalability {
		cells := []string{row.Scenario, row.Metric}
		for _, n := range sizes {
			switch v, ok := row.Throughput[n]; {
			case !ok:
				cells = append(cells, "-")
			case slices.Contains(row.HostBound, n):
				cells = append(cells, f0(v)+" "+sc.footnote("host-bound: the load machine's CPU was above execution.host_cpu_warn_percent (or its steal above host_steal_warn_percent) while measuring this, so the figure may describe the machine, not the target"))
			default:
				cells = append(cells, f0(v))
			}
		}
		cells = append(cells, scalingCell(row, sizes))
		sc.Rows = append(sc.Rows, cells)
	}
	if len(r.Scalability) == 0 {
		sc.Lines = append(sc.Lines, "No scenario ran on more than one cluster size.")
	}
	out = append(out, sc)
	res := section{Title: "Resource Utilization", Lines: []string{"Means over the measured windows of every scenario; node CPU is percent of one core, host CPU of all cores."},
		Head: []string{"nodes", "process", "CPU mean %", "CPU max %", "RSS max MiB", "host net sent MiB", "scenarios"}}
	for _, row := range r.Resources {
		rss, net := "-", "-"
		if row.RSSMaxMiB > 0 {
			rss = fmt.Sprintf("%.1f", row.RSSMaxMiB)
		}
		if row.Process == "host" {
			net = fmt.Sprintf("%.1f", row.NetMiBSent)
		}
		res.Rows = append(res.Rows, []string{fmt.Sprint(row.Size), row.Process, f0(row.CPUMean), f0(row.CPUMax), rss, net, fmt.Sprint(row.Scenarios)})
	}
	out = append(out, res)
	ck := section{Title: "Checks", Lines: []string{"Every assertion a scenario made about the target. A failed check of severity fail (correctness, safety) failed its scenario; one of severity warn is advisory."},
		Head: []string{"nodes", "scenario", "#", "check", "severity", "result", "detail"}}
	for _, c := range r.Checks {
		result := "PASS"
		if !c.Passed {
			result = map[bool]string{true: "FAIL", false: "WARN"}[c.Severity == metrics.SeverityFail]
		}
		ck.Rows = append(ck.Rows, []string{fmt.Sprint(c.Size), c.Scenario, fmt.Sprint(c.Repetition), c.Name, c.Severity, result, ck.footnote(c.Detail)})
	}
	if len(r.Checks) == 0 {
		ck.Lines = append(ck.Lines, "No scenario of this run made a check.")
	}
	out = append(out, ck)
	out = append(out, r.faultSections()...)
	tg := section{Title: "Targets", Head: []string{"target", "goal", "measured", "status", "where"}}
	for _, t := range r.Targets {
		tg.Rows = append(tg.Rows, []string{t.Name, t.Target, t.Measured, strings.ToUpper(t.Status), t.Where})
	}
	out = append(out, tg)
	if r.Regression != nil {
		rg := section{Title: "Regression Analysis", Head: compareHeader}
		for _, row := range r.Regression.shown(false) {
			rg.Rows = append(rg.Rows, row.cells())
		}
		rg.Lines = append(rg.Lines, r.Regression.brokenLines()...)
		rg.Lines = append(rg.Lines, r.Regression.summary())
		rg.Lines = append(rg.Lines, r.Regression.Notes...)
		out = append(out, rg)
	}
	rec := section{Title: "Recommendations"}
	for i, x := range r.Recommendations {
		rec.Lines = append(rec.Lines, fmt.Sprintf("%d. %s: %s. %s. [%s]", i+1, upperFirst(x.Finding), x.Evidence, upperFirst(x.Advice), x.Rule))
	}
	if len(rec.Lines) == 0 {
		rec.Lines = []string{"No rule fired: nothing in the data calls for a change."}
	}
	out = append(out, rec)
	if len(r.Warnings) > 0 {
		out = append(out, section{Title: "Warnings", Lines: r.Warnings})
	}
	return out
}

func scalingCell(row ScalingRow, sizes []int) string {
	if row.Expected && row.Efficiency != nil {
		var parts []string
		for _, n := range sizes {
			if e, ok := row.Efficiency[n]; ok && n > 1 {
				parts = append(parts, fmt.Sprintf("%d: %.0f%% of linear", n, 100*e))
			}
		}
		return strings.Join(parts, ", ")
	}
	t1, ok := row.Throughput[sizes[0]]
	if !ok || t1 == 0 {
		return ""
	}
	var parts []string
	for _, n := range sizes[1:] {
		if t, ok := row.Throughput[n]; ok {
			parts = append(parts, fmt.Sprintf("%d: %.2f×", n, t/t1))
		}
	}
	return strings.Join(parts, ", ")
}

func (r *Report) sizes() []int {
	seen := map[int]bool{}
	var out []int
	for _, c := range r.run.Clusters {
		if !seen[c.Size] {
			seen[c.Size] = true
			out = append(out, c.Size)
		}
	}
	sort.Ints(out)
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// WriteText renders the report for a terminal no wider than width
// (0: unbounded): prose wrapped, tables with wrapped cells, footnotes in
// full under their table.
func (r *Report) WriteText(w io.Writer, width int) error {
	para := func(text string, indent string) {
		if width <= 0 {
			fmt.Fprintln(w, indent+text)
			return
		}
		for _, l := range wrapWords(text, max(width-len(indent), 20)) {
			fmt.Fprintln(w, indent+l)
		}
	}
	para("odbench report: "+r.File, "")
	for _, s := range r.sections() {
		fmt.Fprintln(w)
		para("== "+s.Title+" ==", "")
		for _, l := range s.Lines {
			para(l, "")
		}
		if len(s.Rows) > 0 {
			writeTable(w, s.Head, s.Rows, width)
		}
		for i, n := range s.Notes {
			ref := fmt.Sprintf("[%d] ", i+1)
			lines := wrapWords(n, max(width-len(ref), 20))
			if width <= 0 {
				lines = []string{n}
			}
			for k, l := range lines {
				if k == 0 {
					fmt.Fprintln(w, ref+l)
				} else {
					fmt.Fprintln(w, strings.Repeat(" ", len(ref))+l)
				}
			}
		}
	}
	return nil
}

// WriteMarkdown renders markdown; charts (already written beside it by the
// caller) are linked by file name.
func (r *Report) WriteMarkdown(w io.Writer, charts []Chart) error {
	fmt.Fprintf(w, "# Performance Benchmark Report\n\n`%s`\n", r.File)
	for _, s := range withCharts(r.sections(), charts) {
		fmt.Fprintf(w, "\n## %s\n\n", s.Title)
		for _, l := range s.Lines {
			fmt.Fprintf(w, "%s\n\n", l)
		}
		if len(s.Rows) > 0 {
			head := s.Head
			fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
			for _, row := range s.Rows {
				cells := make([]string, len(row))
				for i, c := range row {
					cells[i] = strings.ReplaceAll(c, "|", `\|`)
				}
				fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
			}
		}
		if len(s.Notes) > 0 {
			fmt.Fprintln(w)
		}
		for i, n := range s.Notes {
			fmt.Fprintf(w, "%d. %s\n", i+1, n)
		}
		for _, c := range s.Charts {
			if len(c.SVG) == 0 {
				fmt.Fprintf(w, "\n**%s**: %s\n", c.Title, c.Note)
				continue
			}
			fmt.Fprintf(w, "\n![%s](%s)\n", c.Title, c.File)
		}
	}
	return nil
}

// WriteJSON renders the report's data (charts are not included).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var htmlPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>odbench report: {{.File}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2433}
main{max-width:1100px;margin:2em auto;padding:0 1.2em}
nav#toc{font-size:13px;padding:1em 1.2em}
nav#toc ol{margin:.3em 0;padding-left:1.2em}nav#toc a{color:#1d4f91;text-decoration:none}nav#toc a:hover{text-decoration:underline}
@media (min-width:1400px){nav#toc{position:fixed;top:0;left:0;width:220px;height:100vh;overflow:auto;box-sizing:border-box;border-right:1px solid #d5d9e2;background:#fafbfd}
main{margin-left:260px}}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:2em;scroll-margin-top:1em}
table{border-collapse:collapse;margin:.6em 0;font-size:12.5px}
th,td{border:1px solid #d5d9e2;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f3f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#146c2e;font-weight:600}.FAIL,.REGRESSION,.failed{color:#b3261e;font-weight:600}.WARN{color:#8a5a00;font-weight:600}
ol.notes{font-size:12.5px;color:#333;margin:.3em 0 1em;padding-left:2.2em}
figure{margin:1.4em 0;max-width:1000px}figcaption{font-weight:600;margin-bottom:.3em}figure svg{width:100%;height:auto}
figure p.note{color:#555;font-style:italic}
</style></head><body>
<nav id="toc"><b>Contents</b><ol>{{range .Sections}}<li><a href="#{{.ID}}">{{.Title}}</a></li>{{end}}</ol></nav>
<main>
<h1>Performance Benchmark Report</h1><p><code>{{.File}}</code></p>
{{range .Sections}}<h2 id="{{.ID}}">{{.Title}}</h2>
{{range .Lines}}<p>{{.}}</p>{{end}}
{{if .Rows}}<table>{{if index .Head 0}}<tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>{{end}}
{{range .Rows}}<tr>{{range .}}<td class="{{.}}">{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{if .Notes}}<ol class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ol>{{end}}
{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{if .SVG}}{{.SVG}}{{else}}<p class="note">{{.Note}}</p>{{end}}</figure>{{end}}
{{end}}
</main>
</body></html>
`))

// WriteHTML renders one self-contained page: CSS and SVG inline, nothing
// fetched from the network; a table of contents beside it on wide
// screens, above it on narrow ones.
func (r *Report) WriteHTML(w io.Writer, charts []Chart) error {
	type inline struct {
		Title string
		SVG   template.HTML
		Note  string
	}
	type htmlSection struct {
		section
		ID     string
		Charts []inline
	}
	var out []htmlSection
	for _, sec := range withCharts(r.sections(), charts) {
		hs := htmlSection{section: sec, ID: sec.ID()}
		for _, c := range sec.Charts {
			svg := c.SVG
			if i := bytes.Index(svg, []byte("<svg")); i > 0 {
				svg = svg[i:] // drop the XML prolog inside HTML
			}
			hs.Charts = append(hs.Charts, inline{c.Title, template.HTML(svg), c.Note}) // gonum's own SVG output, not outside input
		}
		out = append(out, hs)
	}
	return htmlPage.Execute(w, struct {
		File     string
		Sections []htmlSection
	}{r.File, out})
}

// WriteBenchfmt prints Go benchmark format lines, one per operation of
// every scenario run, so benchstat can compare odbench results:
//
//	BenchmarkOdbench/nodes=3/api/health_check/clients=16/op=health_check 21395 17776 ops/s 0.383 p50-ms 4.56 p99-ms 0 err-%
func (r *Report) WriteBenchfmt(w io.Writer) error {
	run := r.run
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: odbench\n", run.Host.OS, run.Host.Arch)
	if run.Host.CPUModel != "" {
		fmt.Fprintf(w, "cpu: %s\n", run.Host.CPUModel)
	}
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			if s.Status != "ok" {
				continue
			}
			for _, op := range s.Operations {
				name := fmt.Sprintf("BenchmarkOdbench/nodes=%d/%s/op=%s", c.Size, s.Name, op.Name)
				name = strings.Join(strings.Fields(name), "_")
				fmt.Fprintf(w, "%s %d %.6g ops/s %.6g p50-ms %.6g p95-ms %.6g p99-ms %.4g err-%%\n", name, max(op.Count, 1),
					op.ThroughputOpsPerSec, ms(op.Latency.P50Ns), ms(op.Latency.P95Ns), ms(op.Latency.P99Ns), 100*op.ErrorRate())
			}
		}
	}
	return nil
}
