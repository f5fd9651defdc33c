package report

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// writeTable prints rows under head as plain text no wider than width:
// columns two spaces apart, shrunk from the widest while the table does
// not fit (a column keeps at least 4 characters), each cell's words,
// the header's too, wrapped inside its column. When even columns of 12
// characters would not fit, each row is printed as a record instead: its
// first cell (with the second, when the first is a short key), then
// "header value" pairs wrapped under it.
func writeTable(w io.Writer, head []string, rows [][]string, width int) {
	n := len(head)
	if width > 0 && !fitsColumns(head, rows, width) {
		writeRecords(w, head, rows, width)
		return
	}
	widths := make([]int, n)
	floor := make([]int, n)
	for i, h := range head {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range rows {
		for i := 0; i < n && i < len(r); i++ {
			widths[i] = max(widths[i], utf8.RuneCountInString(r[i]))
		}
	}
	for i := range floor {
		floor[i] = min(4, widths[i])
	}
	total := func() int {
		t := 2 * (n - 1)
		for _, c := range widths {
			t += c
		}
		return t
	}
	for width > 0 && total() > width {
		wide := -1
		for i := range widths {
			if widths[i] > floor[i] && (wide < 0 || widths[i] > widths[wide]) {
				wide = i
			}
		}
		if wide < 0 {
			break // every column at its floor: as narrow as it gets
		}
		widths[wide]--
	}
	line := func(cells []string) {
		wrapped := make([][]string, n)
		height := 1
		for i := range n {
			text := ""
			if i < len(cells) {
				text = cells[i]
			}
			wrapped[i] = wrapWords(text, widths[i])
			height = max(height, len(wrapped[i]))
		}
		for k := range height {
			var b strings.Builder
			for i := range n {
				cell := ""
				if k < len(wrapped[i]) {
					cell = wrapped[i][k]
				}
				if i < n-1 {
					cell += strings.Repeat(" ", widths[i]-utf8.RuneCountInString(cell)) + "  "
				}
				b.WriteString(cell)
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		}
	}
	if strings.Join(head, "") != "" {
		line(head)
		var rule []string
		for _, c := range widths {
			rule = append(rule, strings.Repeat("-", c))
		}
		fmt.Fprintln(w, strings.Join(rule, "  "))
	}
	for _, r := range rows {
		line(r)
	}
}

// wrapWords breaks text into lines of at most width runes, at spaces,
// and inside words longer than a line.
func wrapWords(text string, width int) []string {
	if width < 1 {
		width = 1
	}
	var out []string
	cur := ""
	for _, word := range strings.Fields(text) {
		for utf8.RuneCountInString(word) > width {
			if cur != "" {
				out, cur = append(out, cur), ""
			}
			r := []rune(word)
			out, word = append(out, string(r[:width])), string(r[width:])
		}
		switch {
		case cur == "":
			cur = word
		case utf8.RuneCountInString(cur)+1+utf8.RuneCountInString(word) <= width:
			cur += " " + word
		default:
			out, cur = append(out, cur), word
		}
	}
	if cur != "" || len(out) == 0 {
		out = append(out, cur)
	}
	return out
}

// fitsColumns reports whether the table fits width with every column at
// its natural width or 12 characters, whichever is less.
func fitsColumns(head []string, rows [][]string, width int) bool {
	need := 2 * (len(head) - 1)
	for i, h := range head {
		c := utf8.RuneCountInString(h)
		for _, r := range rows {
			if i < len(r) {
				c = max(c, utf8.RuneCountInString(r[i]))
			}
		}
		need += min(c, 12)
	}
	return need <= width
}

// writeRecords prints each row as its first cell, then the others as
// "header value" pairs joined by " · ", wrapped two spaces in.
func writeRecords(w io.Writer, head []string, rows [][]string, width int) {
	for _, r := range rows {
		if len(r) == 0 {
			continue
		}
		heading, from := r[0], 1
		if utf8.RuneCountInString(r[0]) <= 4 && len(r) > 1 { // a short key (nodes): with the next cell
			heading, from = strings.TrimSpace(head[0]+" "+r[0])+" · "+r[1], 2
		}
		for _, l := range wrapWords(heading, width) {
			fmt.Fprintln(w, l)
		}
		var pairs []string
		for i := from; i < len(r) && i < len(head); i++ {
			if strings.TrimSpace(r[i]) == "" {
				continue
			}
			label := head[i]
			if label != "" {
				label += " "
			}
			pairs = append(pairs, label+r[i])
		}
		for _, l := range wrapWords(strings.Join(pairs, " · "), width-2) {
			fmt.Fprintln(w, "  "+l)
		}
	}
}
