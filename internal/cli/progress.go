package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/runner"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress prints what the runner does: a live bar with ETA on a terminal,
// one log line per event otherwise (CI, pipes, files).
type progress interface {
	runner.Progress
	Close()
}

// newProgress draws on stderr, keeping stdout for the summary: a bar when
// stderr is a terminal, lines otherwise.
func newProgress(errw io.Writer) progress {
	if f, ok := errw.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		return &barProgress{out: errw, width: termWidth(errw)}
	}
	return &lineProgress{w: errw}
}

// lineProgress writes plain lines to stderr, keeping stdout for the summary.
type lineProgress struct {
	w     io.Writer
	total int
	start time.Time
}

func (p *lineProgress) Planned(total int, each time.Duration) {
	p.total, p.start = total, time.Now()
	fmt.Fprintf(p.w, "odbench: %d scenario runs planned, about %v each\n", total, each)
}
func (p *lineProgress) ClusterStarting(label string) {
	fmt.Fprintf(p.w, "odbench: starting a %s\n", label)
}
func (p *lineProgress) ClusterReady(label string, took time.Duration, nodes []cluster.Node) {
	fmt.Fprintf(p.w, "odbench: %s ready in %v\n", label, took.Round(time.Millisecond))
}
func (p *lineProgress) ClusterFailed(label string, err error) {
	fmt.Fprintf(p.w, "odbench: %s failed to start: %v\n", label, err)
}
func (p *lineProgress) ScenarioStarted(i int, where runner.Where, name string, rep int) {
	fmt.Fprintf(p.w, "odbench: [%d/%d] %s: %s%s ...\n", i, p.total, where, name, repSuffix(rep))
}
func (p *lineProgress) ScenarioDone(i int, where runner.Where, res metrics.Scenario) {
	fmt.Fprintf(p.w, "odbench: [%d/%d] %s: %s%s %s%s\n", i, p.total, where, res.Name, repSuffix(res.Repetition), res.Status, brief(res))
	for _, w := range res.Warnings {
		fmt.Fprintf(p.w, "odbench:   warning: %s\n", w)
	}
}
func (p *lineProgress) Note(msg string) { fmt.Fprintf(p.w, "odbench: %s\n", msg) }
func (p *lineProgress) Close()          {}

func repSuffix(rep int) string {
	if rep > 1 {
		return fmt.Sprintf(" #%d", rep)
	}
	return ""
}

// brief is the one-line outcome of a scenario.
func brief(res metrics.Scenario) string {
	switch res.Status {
	case metrics.StatusSkipped:
		return ": " + res.Reason
	case metrics.StatusFailed:
		return ": " + clip(res.Error, 200)
	}
	var parts []string
	for _, op := range res.Operations {
		parts = append(parts, fmt.Sprintf("%s %.0f ops/s p99 %s", op.Name, op.ThroughputOpsPerSec, fmtNs(op.Latency.P99Ns)))
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, "; ")
}

// barProgress draws one bar for the whole plan with an ETA. The runner
// sets the name; mpb's render goroutine reads it, hence the lock.
type barProgress struct {
	out   io.Writer
	width int // the terminal's: log lines are wrapped to it, the name cut
	p     *mpb.Progress
	bar   *mpb.Bar

	mu   sync.Mutex
	name string
}

func (b *barProgress) setName(format string, args ...any) {
	b.mu.Lock()
	b.name = fmt.Sprintf(format, args...)
	b.mu.Unlock()
}

// barCols is what the bar line takes besides the name: the counters, the
// bar, the percentage and the ETA.
const barCols = 20 + 40 + 5 + 10

func (b *barProgress) getName() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return clip(b.name, max(b.width-barCols, 8))
}

func (b *barProgress) Planned(total int, each time.Duration) {
	b.p = mpb.New(mpb.WithOutput(b.out), mpb.WithWidth(min(40, max(b.width/4, 10))))
	b.bar = b.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.CountersNoUnit("%d/%d"), decor.Any(func(decor.Statistics) string { return " " + b.getName() })),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" ETA "), decor.AverageETA(decor.ET_STYLE_MMSS)),
	)
}
func (b *barProgress) ClusterStarting(label string) { b.setName("starting a %s", label) }
func (b *barProgress) ClusterReady(label string, took time.Duration, nodes []cluster.Node) {
	b.log("%s ready in %v", label, took.Round(time.Millisecond))
}
func (b *barProgress) ClusterFailed(label string, err error) {
	b.log("%s failed to start: %v", label, err)
}
func (b *barProgress) ScenarioStarted(i int, where runner.Where, name string, rep int) {
	b.setName("%s: %s%s", where, name, repSuffix(rep))
}
func (b *barProgress) ScenarioDone(i int, where runner.Where, res metrics.Scenario) {
	b.log("%s: %s%s %s%s", where, res.Name, repSuffix(res.Repetition), res.Status, brief(res))
	for _, w := range res.Warnings {
		b.log("  warning: %s", w)
	}
	b.bar.Increment()
}
func (b *barProgress) Note(msg string) { b.log("%s", msg) }
func (b *barProgress) log(format string, args ...any) {
	line := strings.Join(wrapHanging(fmt.Sprintf(format, args...), b.width, 4), "\n") + "\n"
	if b.p == nil {
		fmt.Fprint(b.out, line)
		return
	}
	// Printed above the bar.
	_, _ = b.p.Write([]byte(line))
}
func (b *barProgress) Close() {
	if b.p != nil {
		b.bar.Abort(false)
		b.p.Wait()
	}
}
