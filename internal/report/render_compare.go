package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// shown returns the rows a reader needs: all of them, or only those that
// moved beyond the tolerance.
func (c *Comparison) shown(all bool) []Row {
	if all {
		return c.Rows
	}
	var out []Row
	for _, r := range c.Rows {
		if r.Verdict != NoChange {
			out = append(out, r)
		}
	}
	return out
}

func (r Row) cells() []string {
	p, padj := "-", "-"
	if r.P != nil {
		p = fmtP(*r.P)
	}
	if r.PAdjusted != nil {
		padj = fmtP(*r.PAdjusted)
	}
	delta := fmt.Sprintf("%+.1f%%", r.DeltaPct)
	tol := fmt.Sprintf("±%g%%", r.Tolerance)
	noise := "-"
	if r.Noise != nil {
		noise = fmt.Sprintf("±%.1f%%", *r.Noise)
	}
	if r.Unit == "%" {
		delta = fmt.Sprintf("%+.2f pt", r.DeltaPct)
		tol = fmt.Sprintf("+%g pt", r.Tolerance)
		if r.Noise != nil {
			noise = fmt.Sprintf("±%.2f pt", *r.Noise)
		}
	}
	verdict := r.Verdict
	switch r.Verdict {
	case Regression:
		verdict = "REGRESSION"
	case Unconfirmed:
		verdict = map[bool]string{true: "unconfirmed (worse)", false: "unconfirmed (better)"}[r.Worse]
	}
	if strings.Contains(r.Note, "host-bound") {
		verdict += " (host-bound)"
	}
	n := fmt.Sprintf("%d+%d", r.N1, r.N2)
	if r.Failed1+r.Failed2 > 0 {
		n += fmt.Sprintf(" (%d+%d failed)", r.Failed1, r.Failed2)
	}
	return []string{r.Key.String(), r.Metric, fmtVal(r.Baseline, r.Unit), fmtVal(r.Current, r.Unit), delta, noise, tol, p, padj, n, verdict}
}

// fmtP prints a p-value with three significant digits, small ones in
// exponent form ("0.0079", "1.1e-05").
func fmtP(p float64) string {
	if p < 0.001 {
		return fmt.Sprintf("%.2g", p)
	}
	return fmt.Sprintf("%.3g", p)
}

func fmtVal(v float64, unit string) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f %s", v, unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.3g %s", v, unit)
}

var compareHeader = []string{"scenario", "metric", "baseline", "current", "delta", "noise", "tolerance", "p", "p adj.", "n", "verdict"}

func (c *Comparison) summary() string {
	count := map[string]int{}
	for _, r := range c.Rows {
		count[r.Verdict]++
	}
	out := fmt.Sprintf("%d metrics compared: %d regressions, %d improvements, %d unconfirmed (too few repetitions), "+
		"%d within noise, %d not significant, %d within the tolerance",
		len(c.Rows), count[Regression], count[Improvement], count[Unconfirmed], count[WithinNoise], count[Insignificant], count[NoChange])
	var failed, missing int
	for _, b := range c.Broken {
		if !b.Regression {
			continue
		}
		if b.Kind == BrokeFailed {
			failed++
		} else {
			missing++
		}
	}
	if failed+missing > 0 {
		out += fmt.Sprintf("; %d scenario(s) ok in the baseline now fail, %d are missing", failed, missing)
	}
	return out
}

// brokenLines renders each broken scenario on its own line.
func (c *Comparison) brokenLines() []string {
	var out []string
	for _, b := range c.Broken {
		label := "REGRESSION"
		switch {
		case !b.Regression:
			label = "missing (allowed)"
		case b.Kind == BrokeFailed:
			label = "REGRESSION (now fails)"
		case b.Kind == BrokeMissing:
			label = "REGRESSION (missing; --allow-missing accepts it)"
		}
		out = append(out, label+": "+b.String())
	}
	return out
}

// WriteText renders the comparison for a terminal no wider than width
// (0: unbounded): prose wrapped under its label, the table's cells
// wrapped in their columns.
func (c *Comparison) WriteText(w io.Writer, all bool, width int) error {
	say := func(label, text string) { writeLabelled(w, label, text, width) }
	say("baseline: ", c.Baseline)
	say("          ", c.BaselineBuild)
	say("current:  ", c.Current)
	say("          ", c.CurrentBuild)
	if c.Settings != "" {
		say("settings: ", c.Settings)
	}
	for _, warn := range c.Warnings {
		say("warning: ", warn)
	}
	if rows := c.shown(all); len(rows) > 0 {
		cells := make([][]string, len(rows))
		for i, r := range rows {
			cells[i] = r.cells()
		}
		writeTable(w, compareHeader, cells, width)
	}
	for _, l := range c.brokenLines() {
		say("", l)
	}
	say("", c.summary())
	c.writeExtras(w, "", width)
	return nil
}

func (c *Comparison) writeExtras(w io.Writer, bullet string, width int) {
	for _, n := range c.Notes {
		writeLabelled(w, bullet+"note: ", n, width)
	}
	if len(c.OnlyBaseline) > 0 {
		writeLabelled(w, bullet+"only in the baseline (not compared): ", strings.Join(c.OnlyBaseline, "; "), width)
	}
	if len(c.OnlyCurrent) > 0 {
		writeLabelled(w, bullet+"only in the current run (not compared): ", strings.Join(c.OnlyCurrent, "; "), width)
	}
}

// writeLabelled prints label and text wrapped to width, the lines after
// the first indented under the text (0: one line).
func writeLabelled(w io.Writer, label, text string, width int) {
	if width <= 0 {
		fmt.Fprintln(w, label+text)
		return
	}
	indent := len([]rune(label))
	if indent > width/2 {
		indent = 2
	}
	lines := wrapWords(text, max(width-indent, 20))
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintln(w, label+l)
			continue
		}
		fmt.Fprintln(w, strings.Repeat(" ", indent)+l)
	}
}

// WriteMarkdown renders a markdown section (for $GITHUB_STEP_SUMMARY).
func (c *Comparison) WriteMarkdown(w io.Writer, all bool) error {
	verdict := "no regression"
	if n := c.Failures(); n > 0 {
		verdict = fmt.Sprintf("**%d regression(s)**", n)
	}
	fmt.Fprintf(w, "## odbench compare: %s\n\n- baseline `%s`: %s\n- current `%s`: %s\n\n", verdict, c.Baseline, c.BaselineBuild, c.Current, c.CurrentBuild)
	if c.Settings != "" {
		fmt.Fprintf(w, "Settings: %s\n\n", c.Settings)
	}
	for _, warn := range c.Warnings {
		fmt.Fprintf(w, "> warning: %s\n\n", warn)
	}
	rows := c.shown(all)
	if len(rows) > 0 {
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(compareHeader, " | "), strings.Repeat("---|", len(compareHeader)))
		for _, r := range rows {
			cells := r.cells()
			for i := range cells {
				cells[i] = strings.ReplaceAll(cells[i], "|", `\|`)
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
		fmt.Fprintln(w)
	}
	for _, l := range c.brokenLines() {
		fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(l, "REGRESSION", "**REGRESSION**"))
	}
	if len(c.Broken) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%s\n\n", c.summary())
	c.writeExtras(w, "- ", 0)
	return nil
}

// WriteJSON renders every row as JSON.
func (c *Comparison) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Baseline    string `json:"baseline"`
		Current     string `json:"current"`
		Regressions int    `json:"regressions"`
		*Comparison
	}{c.Baseline, c.Current, c.Failures(), c})
}

// WriteJUnit renders JUnit XML: one test case per compared metric, a
// failure for each regression.
func (c *Comparison) WriteJUnit(w io.Writer) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testcase struct {
		Name      string   `xml:"name,attr"`
		Classname string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
	}
	type suite struct {
		XMLName  xml.Name   `xml:"testsuite"`
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	s := suite{Name: "odbench compare", Tests: len(c.Rows) + len(c.Broken)}
	for _, b := range c.Broken {
		tc := testcase{Name: fmt.Sprintf("%d nodes %s status", b.Size, b.Scenario), Classname: "odbench." + strings.SplitN(b.Scenario, "/", 2)[0]}
		if b.Regression {
			tc.Failure = &failure{Message: fmt.Sprintf("%s %s", b.Scenario, map[string]string{BrokeFailed: "now fails", BrokeMissing: "is missing"}[b.Kind]),
				Text: b.String()}
			s.Failures++
		}
		s.Cases = append(s.Cases, tc)
	}
	for _, r := range c.Rows {
		tc := testcase{Name: r.Key.String() + " " + r.Metric, Classname: "odbench." + strings.SplitN(r.Scenario, "/", 2)[0]}
		if r.Verdict == Regression {
			cells := r.cells()
			tc.Failure = &failure{Message: fmt.Sprintf("%s regressed %s (noise %s, tolerance %s)", r.Metric, cells[4], cells[5], cells[6]),
				Text: fmt.Sprintf("baseline %s, current %s, p %s, n %s, %s", cells[2], cells[3], cells[7], cells[8], r.Method)}
			s.Failures++
		}
		s.Cases = append(s.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
