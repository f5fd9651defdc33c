package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/odbench/odbench/internal/metrics"
	"github.com/olekukonko/tablewriter"
)

// section is one titled part of a report: prose lines and/or a table,
// and the charts of its category (placed by withCharts).
type section struct {
	Title    string
	Lines    []string
	Head     []string
	Rows     [][]string
	category string
	Charts   []Chart
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
				f0(row.OpsPerSec), f2(row.P50Ms), f2(row.P95Ms), f2(row.P99Ms), f2(row.ErrorPct), clip(row.Note, 90)})
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
			if v, ok := row.Throughput[n]; ok {
				cells = append(cells, f0(v))
			} else {
				cells = append(cells, "-")
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
		ck.Rows = append(ck.Rows, []string{fmt.Sprint(c.Size), c.Scenario, fmt.Sprint(c.Repetition), c.Name, c.Severity, result, clip(c.Detail, 120)})
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

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// WriteText renders the report for a terminal.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "odbench report: %s\n", r.File)
	for _, s := range r.sections() {
		fmt.Fprintf(w, "\n== %s ==\n", s.Title)
		for _, l := range s.Lines {
			fmt.Fprintln(w, l)
		}
		if len(s.Rows) > 0 {
			t := tablewriter.NewTable(w)
			if s.Head[0] != "" {
				t.Header(anySlice(s.Head)...)
			}
			for _, row := range s.Rows {
				if err := t.Append(anySlice(row)...); err != nil {
					return err
				}
			}
			if err := t.Render(); err != nil {
				return err
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
		for _, c := range s.Charts {
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
<title>odbench report: {{.File}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#1d2433}
h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ccd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:12.5px}
th,td{border:1px solid #d5d9e2;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f0f3f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.PASS{color:#146c2e;font-weight:600}.FAIL,.REGRESSION,.failed{color:#b3261e;font-weight:600}.WARN{color:#8a5a00;font-weight:600}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}svg{max-width:100%;height:auto}
</style></head><body>
<h1>Performance Benchmark Report</h1><p><code>{{.File}}</code></p>
{{range .Sections}}<h2>{{.Title}}</h2>
{{range .Lines}}<p>{{.}}</p>{{end}}
{{if .Rows}}<table>{{if index .Head 0}}<tr>{{range .Head}}<th>{{.}}</th>{{end}}</tr>{{end}}
{{range .Rows}}<tr>{{range .}}<td class="{{.}}">{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{range .Charts}}<figure><figcaption>{{.Title}}</figcaption>{{.SVG}}</figure>{{end}}
{{end}}
</body></html>
`))

// WriteHTML renders one self-contained page: CSS and SVG inline, nothing
// fetched from the network.
func (r *Report) WriteHTML(w io.Writer, charts []Chart) error {
	type inline struct {
		Title string
		SVG   template.HTML
	}
	type htmlSection struct {
		section
		Charts []inline
	}
	var out []htmlSection
	for _, sec := range withCharts(r.sections(), charts) {
		hs := htmlSection{section: sec}
		for _, c := range sec.Charts {
			svg := c.SVG
			if i := bytes.Index(svg, []byte("<svg")); i > 0 {
				svg = svg[i:] // drop the XML prolog inside HTML
			}
			hs.Charts = append(hs.Charts, inline{c.Title, template.HTML(svg)}) // gonum's own SVG output, not outside input
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
