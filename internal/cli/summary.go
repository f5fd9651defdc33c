package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/report"
	"github.com/olekukonko/tablewriter"
)

// summaryInput is what the end-of-run summary shows.
type summaryInput struct {
	run   *metrics.Run
	cfg   *config.Config
	path  string // the results file; "" if none was written
	width int
}

// printSummary prints the end of a run in width columns: per cluster
// size and category a title, then one line per scenario run with its
// main operation (several request operations are merged), notes as
// numbered footnotes, the few phase figures that matter (TTFT and TPOT,
// a fault's before, during and after) on a line below, and a verdict
// block with what to run next.
func printSummary(w io.Writer, in summaryInput) {
	notes := &footnotes{}
	rows := summaryRows(in.run, in.cfg, notes)
	layout := newLayout(rows, in.width)
	fmt.Fprintln(w, layout.header())
	group := ""
	for _, r := range rows {
		if r.group != group {
			group = r.group
			fmt.Fprintln(w, fit(group, in.width))
		}
		fmt.Fprintln(w, layout.line(r))
		if r.detail != "" {
			for _, l := range wrap(r.detail, in.width-layout.indent, layout.indent) {
				fmt.Fprintln(w, l)
			}
		}
	}
	if len(notes.texts) > 0 {
		fmt.Fprintln(w)
		for i, t := range notes.texts {
			for _, l := range wrapHanging(fmt.Sprintf("[%d] %s", i+1, t), in.width, len(fmt.Sprintf("[%d] ", i+1))) {
				fmt.Fprintln(w, l)
			}
		}
	}
	fmt.Fprintln(w)
	printVerdict(w, in)
}

// summaryRow is one scenario run on one line.
type summaryRow struct {
	group                          string // "consensus · 3 nodes"
	name                           string // without its category
	status, ops, p50, p99, errRate string
	notes                          []int  // footnote numbers
	detail                         string // phase figures, on a line below
}

// footnotes numbers distinct notes in order.
type footnotes struct{ texts []string }

// numbers adds text (if any) and returns its number as a list.
func (f *footnotes) numbers(text string) []int {
	if n := f.add(text); n > 0 {
		return []int{n}
	}
	return nil
}

func (f *footnotes) add(text string) int {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\n", " "))
	if text == "" {
		return 0
	}
	if i := slices.Index(f.texts, text); i >= 0 {
		return i + 1
	}
	f.texts = append(f.texts, text)
	return len(f.texts)
}

// hostNote is the one footnote of every scenario a busy load machine
// touched (metrics.HostWarnings), instead of one per scenario: how many,
// and how busy the host was at worst.
func hostNote(run *metrics.Run, cfg *config.Config) string {
	if cfg == nil {
		d := config.Default()
		cfg = &d
	}
	var cpu, steal int
	var cpuMax, stealMax float64
	for _, c := range run.Clusters {
		for _, s := range c.Scenarios {
			var isCPU, isSteal bool
			for _, w := range s.Warnings {
				if metrics.IsHostWarning(w) {
					isSteal = isSteal || strings.HasPrefix(w, "the hypervisor")
					isCPU = isCPU || !strings.HasPrefix(w, "the hypervisor")
				}
			}
			if r := s.Resources; r != nil && r.Host != nil {
				if isCPU {
					cpu++
					cpuMax = max(cpuMax, r.Host.CPUPercentMean)
				}
				if isSteal && r.Host.StealPercentMean != nil {
					steal++
					stealMax = max(stealMax, *r.Host.StealPercentMean)
				}
			}
		}
	}
	var parts []string
	if cpu > 0 {
		parts = append(parts, fmt.Sprintf("host CPU averaged above %.0f%% (up to %.0f%%) during %s marked with this note: the load machine, not the target, may have been the bottleneck",
			cfg.Execution.HostCPUWarnPercent, cpuMax, plural(cpu, "measurement")))
	}
	if steal > 0 {
		parts = append(parts, fmt.Sprintf("the hypervisor took above %.0f%% of the CPU (steal, up to %.0f%%) during %s: timings describe the machine's neighbours as much as the target",
			cfg.Execution.HostStealWarnPercent, stealMax, plural(steal, "measurement")))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func summaryRows(run *metrics.Run, cfg *config.Config, notes *footnotes) []summaryRow {
	host := hostNote(run, cfg)
	var rows []summaryRow
	for _, c := range run.Clusters {
		where := fmt.Sprintf("%d nodes", c.Size)
		if c.Size == 1 {
			where = "1 node"
		}
		if c.Side != "" {
			where += ", " + c.Side + " side"
		}
		if c.Error != "" {
			rows = append(rows, summaryRow{group: "cluster · " + where, name: "(start)", status: "FAIL", notes: notes.numbers(c.Error)})
		}
		for _, s := range c.Scenarios {
			cat, name, ok := strings.Cut(s.Name, "/")
			if !ok {
				cat, name = s.Category, s.Name
			}
			if s.Repetition > 1 {
				name += fmt.Sprintf(" #%d", s.Repetition)
			}
			r := summaryRow{group: cat + " · " + where, name: name, status: shortStatus(s.Status)}
			var text []string
			switch s.Status {
			case metrics.StatusSkipped:
				text = append(text, "skipped: "+s.Reason)
			case metrics.StatusFailed:
				text = append(text, s.Error)
			}
			bound := false
			for _, w := range s.Warnings {
				if metrics.IsHostWarning(w) {
					bound = true
				} else {
					text = append(text, w)
				}
			}
			r.notes = notes.numbers(strings.Join(text, "; "))
			if bound {
				r.notes = append(r.notes, notes.numbers(host)...)
			}
			mainOp(&r, s)
			rows = append(rows, r)
		}
	}
	return rows
}

func shortStatus(s string) string {
	switch s {
	case metrics.StatusOK:
		return "ok"
	case metrics.StatusFailed:
		return "FAIL"
	case metrics.StatusSkipped:
		return "skip"
	}
	return s
}

// mainOp fills the row's figures from the scenario's request operations
// (merged when there are several: throughput summed, latencies from the
// merged histograms) and its detail from the phases that matter.
func mainOp(r *summaryRow, s metrics.Scenario) {
	var reqs []metrics.Operation
	phases := map[string]metrics.Operation{}
	for _, op := range s.Operations {
		if op.PhaseOf == "" {
			reqs = append(reqs, op)
		} else {
			phases[op.Name] = op
		}
	}
	if len(reqs) == 0 {
		return
	}
	var ops float64
	var count, errs int64
	p50, p99 := reqs[0].Latency.P50Ns, reqs[0].Latency.P99Ns
	if len(reqs) > 1 {
		if merged, err := metrics.MergedLatency(reqs); err == nil {
			p50, p99 = merged.P50Ns, merged.P99Ns
		} else {
			r.detail = "latency of " + reqs[0].Name + " only: " + err.Error()
		}
	}
	for _, op := range reqs {
		ops += op.ThroughputOpsPerSec
		count += op.Count
		errs += op.Errors
	}
	r.ops = fmt.Sprintf("%.0f", ops)
	r.p50, r.p99 = fmtNs(p50), fmtNs(p99)
	r.errRate = "0"
	if errs > 0 {
		r.errRate = fmtPercent(100 * float64(errs) / float64(count+errs))
	}
	var d []string
	if sw := sweepLine(s.Sweep); sw != "" {
		d = append(d, sw)
	}
	if op, ok := phases["ttft"]; ok {
		d = append(d, "ttft p50 "+fmtNs(op.Latency.P50Ns)+" p99 "+fmtNs(op.Latency.P99Ns))
	}
	if op, ok := phases["tpot"]; ok {
		d = append(d, "tpot p50 "+fmtNs(op.Latency.P50Ns))
	}
	for _, w := range metrics.Windows() {
		if op, ok := phases[reqs[0].Name+"@"+w]; ok {
			text := fmt.Sprintf("%s %.0f/s p99 %s", w, op.ThroughputOpsPerSec, fmtNs(op.Latency.P99Ns))
			if op.Errors > 0 {
				text += " " + fmtPercent(100*op.ErrorRate()) + " err"
			}
			d = append(d, text)
		}
	}
	if len(d) > 0 {
		r.detail = strings.TrimPrefix(r.detail+" · "+strings.Join(d, " · "), " · ")
	}
}

// sweepLine says what a sweep or a capacity search found: its capacity
// (with the bracket and what bound it) and its knee.
func sweepLine(sw *metrics.Sweep) string {
	if sw == nil {
		return ""
	}
	var parts []string
	switch {
	case sw.Capacity != nil && sw.BracketHigh > 0:
		parts = append(parts, fmt.Sprintf("capacity %.3g/s (%.3g ok, %.3g: %s)", *sw.Capacity, sw.BracketLow, sw.BracketHigh, sw.Binding))
	case sw.Capacity != nil:
		parts = append(parts, fmt.Sprintf("capacity %.3g/s", *sw.Capacity))
	case sw.CapacityAbsent != "":
		parts = append(parts, "no capacity: "+sw.CapacityAbsent)
	}
	if sw.Knee != nil {
		parts = append(parts, fmt.Sprintf("knee %.3g/s", *sw.Knee))
	}
	return strings.Join(parts, " · ")
}

// layout is the column widths of the summary table.
type layout struct {
	name, indent int
	width        int
}

// The fixed columns: status, ops/s, p50, p99, errors, note.
var fixedCols = []struct {
	head string
	w    int
}{{"status", 6}, {"ops/s", 7}, {"p50", 7}, {"p99", 7}, {"err", 6}, {"note", 4}}

const sep = "  "

func newLayout(rows []summaryRow, width int) layout {
	fixed := 0
	for _, c := range fixedCols {
		fixed += c.w + len(sep)
	}
	longest := len("scenario")
	for _, r := range rows {
		longest = max(longest, utf8.RuneCountInString(r.name))
	}
	name := min(longest, max(width-fixed-2, 12))
	return layout{name: name, indent: 4, width: width}
}

func (l layout) header() string {
	cells := []string{pad("  scenario", l.name+2, false)}
	for _, c := range fixedCols {
		cells = append(cells, pad(c.head, c.w, c.head != "status" && c.head != "note"))
	}
	return fit(strings.Join(cells, sep), l.width)
}

func (l layout) line(r summaryRow) string {
	note := ""
	if len(r.notes) > 0 {
		nums := make([]string, len(r.notes))
		for i, n := range r.notes {
			nums[i] = fmt.Sprint(n)
		}
		note = "[" + strings.Join(nums, ",") + "]"
	}
	cells := []string{"  " + pad(shorten(r.name, l.name), l.name, false),
		pad(r.status, fixedCols[0].w, false), pad(r.ops, fixedCols[1].w, true), pad(r.p50, fixedCols[2].w, true),
		pad(r.p99, fixedCols[3].w, true), pad(r.errRate, fixedCols[4].w, true), pad(note, fixedCols[5].w, false)}
	return fit(strings.TrimRight(strings.Join(cells, sep), " "), l.width)
}

// printVerdict closes the summary, k6 style: scenario runs, checks,
// targets, warnings, the results file and the next command.
func printVerdict(w io.Writer, in summaryInput) {
	s := in.run.Summary
	mark := func(bad bool) string {
		if bad {
			return "✗"
		}
		return "✓"
	}
	// labeled prints "M label     text", the text wrapped under itself.
	const textAt = 13
	labeled := func(m, label, text string) {
		for i, l := range wrapHanging(text, in.width-textAt, 0) {
			prefix := strings.Repeat(" ", textAt)
			if i == 0 {
				prefix = pad(m+" "+label, textAt, false)
			}
			fmt.Fprintln(w, prefix+l)
		}
	}
	measured := s.OK+s.Failed > 0
	text := fmt.Sprintf("%d runs: %d ok, %d failed, %d skipped (%s)", s.Scenarios, s.OK, s.Failed, s.Skipped, in.run.Status)
	if !measured {
		text += "; nothing was measured"
	}
	labeled(mark(s.Failed > 0 || !measured), "scenarios", text)
	if s.Checks > 0 {
		labeled(mark(s.ChecksFailed > 0), "checks", fmt.Sprintf("%d passed, %d failed, %d warnings", s.Checks-s.ChecksFailed-s.ChecksWarned, s.ChecksFailed, s.ChecksWarned))
		printFailedChecks(w, in.run, in.width)
	}
	if in.cfg != nil {
		if r, err := report.Build(in.path, in.run, in.cfg, nil); err == nil && len(r.Targets) > 0 {
			var met, absent int
			var missed []string
			for _, t := range r.Targets {
				switch t.Status {
				case report.TargetPass:
					met++
				case report.TargetFail:
					missed = append(missed, t.Name)
				default:
					absent++
				}
			}
			text := fmt.Sprintf("%d met, %d missed, %d not measured", met, len(missed), absent)
			if len(missed) > 0 {
				text += " (advisory; report --check-targets gates on them): missed " + strings.Join(missed, "; ")
			}
			m := mark(len(missed) > 0)
			if met+len(missed) == 0 {
				m = "-" // nothing to judge: neither met nor missed
			}
			labeled(m, "targets", text)
		}
	}
	if n := len(in.run.Warnings); n > 0 {
		labeled("!", "warnings", fmt.Sprint(n))
		for _, warn := range in.run.Warnings {
			for _, l := range wrapHanging("- "+warn, in.width-4, 2) {
				fmt.Fprintln(w, "    "+l)
			}
		}
	}
	if in.path != "" {
		labeled(" ", "results", in.path)
		labeled(" ", "next", "odbench report --format html "+in.path+" (or: odbench compare BASELINE.json "+in.path+")")
	}
}

// printFailedChecks lists every failed check: those of severity fail
// failed their scenario, those of warn are advice.
func printFailedChecks(w io.Writer, run *metrics.Run, width int) {
	for _, c := range run.Clusters {
		for _, sc := range c.Scenarios {
			for _, ch := range sc.Checks {
				if ch.Passed {
					continue
				}
				label := "FAILED"
				if ch.Severity != metrics.SeverityFail {
					label = "warning"
				}
				name := sc.Name
				if sc.Repetition > 1 {
					name = fmt.Sprintf("%s #%d", sc.Name, sc.Repetition)
				}
				text := fmt.Sprintf("%s check %s (%d nodes, %s): %s", label, ch.Name, c.Size, name, ch.Detail)
				for _, l := range wrapHanging(text, width-4, 2) {
					fmt.Fprintln(w, "    "+l)
				}
			}
		}
	}
}

// printWideSummary prints one row per operation of every scenario run,
// phases included (run --wide).
func printWideSummary(w io.Writer, run *metrics.Run) {
	t := tablewriter.NewTable(w)
	t.Header("nodes", "scenario", "status", "ops/s", "p50", "p99", "errors", "note")
	for _, c := range run.Clusters {
		nodes := fmt.Sprint(c.Size)
		if c.Side != "" {
			nodes += " " + c.Side
		}
		if c.Error != "" {
			_ = t.Append(nodes, "(cluster start)", "failed", "", "", "", "", clip(c.Error, 60))
		}
		for _, s := range c.Scenarios {
			name := s.Name
			if s.Repetition > 1 {
				name = fmt.Sprintf("%s #%d", s.Name, s.Repetition)
			}
			if len(s.Operations) == 0 {
				_ = t.Append(nodes, name, s.Status, "", "", "", "", clip(s.Reason+s.Error, 60))
				continue
			}
			for i, op := range s.Operations {
				row := name
				if len(s.Operations) > 1 {
					row = name + " · " + op.Name
				}
				note := ""
				if i == 0 {
					note = clip(strings.Join(append([]string{s.Error}, s.Warnings...), " "), 60)
				}
				_ = t.Append(nodes, row, s.Status, fmt.Sprintf("%.0f", op.ThroughputOpsPerSec),
					fmtNs(op.Latency.P50Ns), fmtNs(op.Latency.P99Ns), errorCell(op), strings.TrimSpace(note))
			}
		}
	}
	_ = t.Render()
	s := run.Summary
	fmt.Fprintf(w, "%d scenario runs: %d ok, %d failed, %d skipped (%s)\n", s.Scenarios, s.OK, s.Failed, s.Skipped, run.Status)
	if s.Checks > 0 {
		fmt.Fprintf(w, "%d checks: %d passed, %d failed, %d warnings\n", s.Checks, s.Checks-s.ChecksFailed-s.ChecksWarned, s.ChecksFailed, s.ChecksWarned)
		printFailedChecks(w, run, 1<<20)
	}
	for _, warn := range run.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
}

func errorCell(op metrics.Operation) string {
	if op.Errors == 0 {
		return "0"
	}
	return fmt.Sprintf("%.2f%% %s", 100*op.ErrorRate(), strings.ReplaceAll(metrics.FormatKinds(op.ErrorsByKind), " ", ","))
}

func fmtNs(ns int64) string {
	d := time.Duration(ns)
	switch {
	case ns == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(ns)/1e3)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(ns)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(ns)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
