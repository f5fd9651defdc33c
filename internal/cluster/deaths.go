package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Death is a node process that exited without odbench asking it to.
type Death struct {
	Node string
	At   time.Time
	// State is how it ended ("exit status 2", "signal: killed").
	State string
	// Fatal is the first line of its last run's log that looks fatal
	// (panic:, fatal error:, FATAL), if any.
	Fatal string
	// Tail is the last lines of its stderr; Log the path of its log file.
	Tail, Log string
}

func (d Death) String() string {
	out := fmt.Sprintf("node %s exited (%s)", d.Node, d.State)
	if d.Fatal != "" {
		out += ": " + d.Fatal
	}
	return out + "; log: " + d.Log + "; last lines:\n" + d.Tail
}

// died records p's unasked exit.
func (s *supervisor) died(p *proc, ps *os.ProcessState) {
	d := Death{Node: p.id, At: time.Now(), State: "unknown", Log: filepath.Join(s.logDir, p.id+".log")}
	if ps != nil {
		d.State = ps.String()
	}
	d.Fatal = firstFatalLine(d.Log)
	d.Tail = p.lastLines()
	s.mu.Lock()
	s.deaths = append(s.deaths, d)
	s.mu.Unlock()
	select {
	case s.notice <- struct{}{}:
	default:
	}
}

// Deaths returns the nodes that exited unasked since the last call, and
// clears a notice of them not yet received.
func (s *supervisor) Deaths() []Death {
	s.mu.Lock()
	out := s.deaths
	s.deaths = nil
	s.mu.Unlock()
	select {
	case <-s.notice:
	default:
	}
	return out
}

// DeathNotice is signalled when a node exits unasked.
func (s *supervisor) DeathNotice() <-chan struct{} { return s.notice }

// fatalLine matches the lines that say why a process died: Go's panics
// and fatal errors, and the FATAL level of common loggers.
var fatalLine = regexp.MustCompile(`^(panic: |fatal error: )|\bFATAL\b|level=fatal|"level":"fatal"`)

// firstFatalLine returns the first fatal-looking line of the last run in
// the log at path (the log holds every run of the node, each begun by a
// "--- time: command" line), reading at most its last 1 MiB.
func firstFatalLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > 1<<20 {
		_, _ = f.Seek(info.Size()-1<<20, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(string(b), "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "--- ") {
			start = i
		}
	}
	for _, l := range lines[start:] {
		if fatalLine.MatchString(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
