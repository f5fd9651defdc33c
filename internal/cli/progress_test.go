package cli

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/runner"
)

// TestProgressBarOnATerminal drives the bar as the runner does, from
// another goroutine than the one drawing it, on a pseudo-terminal: run
// with -race, a data race between the two fails it. The bar and its
// lines go to the terminal it was given (stderr in odbench).
func TestProgressBarOnATerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	var out bytes.Buffer
	var mu sync.Mutex
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()

	p := newProgress(tty)
	if _, ok := p.(*barProgress); !ok {
		t.Fatalf("progress on a terminal is %T, want the bar", p)
	}
	p.Planned(3, time.Second)
	done := make(chan struct{})
	go func() { // the runner's goroutine
		defer close(done)
		p.ClusterStarting("cluster of 1")
		p.ClusterReady("cluster of 1", time.Millisecond, nil)
		for i := 1; i <= 3; i++ {
			w := runner.Where{Size: 1}
			p.ScenarioStarted(i, w, "api/health_check/clients=1", i)
			time.Sleep(30 * time.Millisecond) // let the bar redraw the name meanwhile
			p.ScenarioDone(i, w, metrics.Scenario{Name: "api/health_check/clients=1", Repetition: i, Status: metrics.StatusOK})
		}
	}()
	<-done
	p.Close()
	tty.Close()
	select {
	case <-read:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	got := out.String()
	mu.Unlock()
	for _, want := range []string{"cluster of 1 ready", "size 1: api/health_check/clients=1 #3 ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, got)
		}
	}
}

// TestProgressLinesOffATerminal: anything but a terminal gets plain lines.
func TestProgressLinesOffATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf)
	if _, ok := p.(*lineProgress); !ok {
		t.Fatalf("progress to a buffer is %T, want lines", p)
	}
	p.Planned(1, time.Second)
	p.ScenarioStarted(1, runner.Where{Size: 3, Side: runner.SideBaseline}, "x/y", 1)
	p.Close()
	if !strings.Contains(buf.String(), "[1/1] size 3 baseline: x/y ...") {
		t.Errorf("lines: %q", buf.String())
	}
}
