// How text is fitted to the terminal: its width, and cutting, padding
// and wrapping by runes so that no line of the summary passes it.

package cli

import (
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// defaultWidth is the summary's width when neither COLUMNS nor a terminal
// says otherwise.
const defaultWidth = 100

// termWidth is COLUMNS when set, else the width of the terminal f is,
// else defaultWidth.
func termWidth(f io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if file, ok := f.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(file.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return defaultWidth
}

// fitWidth is the width report and compare fit their text to: COLUMNS
// when set, else the terminal's; 0 (lines as long as they are) when the
// output is a file or a pipe, where a wrapped line would break whoever
// greps it.
func fitWidth(f io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if file, ok := f.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(file.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return 0
}

// pad pads s to n runes, on the left when right-aligned.
func pad(s string, n int, right bool) string {
	gap := n - utf8.RuneCountInString(s)
	if gap <= 0 {
		return s
	}
	if right {
		return strings.Repeat(" ", gap) + s
	}
	return s + strings.Repeat(" ", gap)
}

// shorten fits a scenario name into n runes, keeping its start and its
// end (the parameters), with "…" between.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// fit cuts a line to width runes.
func fit(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width-1]) + "…"
}

// wrap breaks text into lines of at most width runes after an indent.
func wrap(text string, width, indent int) []string {
	var out []string
	for _, l := range wrapHanging(text, width, 0) {
		out = append(out, strings.Repeat(" ", indent)+l)
	}
	return out
}

// wrapHanging breaks text into lines of at most width runes, the lines
// after the first indented by hang; a word longer than a line is cut.
func wrapHanging(text string, width, hang int) []string {
	width = max(width, hang+10)
	var out []string
	var line []rune
	room := func() int {
		if len(out) == 0 {
			return width
		}
		return width - hang
	}
	flush := func() {
		out = append(out, string(line))
		line = nil
	}
	for _, word := range strings.Fields(text) {
		w := []rune(word)
		if len(line) > 0 && len(line)+1+len(w) > room() {
			flush()
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, w...)
		for len(line) > room() {
			rest := append([]rune(nil), line[room():]...)
			line = line[:room()]
			flush()
			line = rest
		}
	}
	if len(line) > 0 {
		flush()
	}
	for i := 1; i < len(out); i++ {
		out[i] = strings.Repeat(" ", hang) + out[i]
	}
	return out
}

// clip puts a message on one line of at most n runes.
func clip(s string, n int) string {
	return fit(strings.TrimSpace(strings.ReplaceAll(s, "\n", " ")), n)
}

// fmtPercent prints a share of requests in a few characters, never in
// exponent form and never as 100% unless every one: "0.12%", "5.3%",
// "57%", "99.5%", "100%", "<0.01%".
func fmtPercent(p float64) string {
	switch {
	case p >= 100:
		return "100%"
	case p >= 99:
		return strconv.FormatFloat(math.Floor(p*10)/10, 'f', -1, 64) + "%"
	case p >= 10:
		return strconv.FormatFloat(math.Floor(p), 'f', 0, 64) + "%"
	case p > 0 && p < 0.01:
		return "<0.01%"
	}
	return strconv.FormatFloat(p, 'g', 2, 64) + "%"
}
