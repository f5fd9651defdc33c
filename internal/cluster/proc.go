package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// supervisor runs the node processes of one cluster that odbench started: each in its own process group
// with the parent-death signal, its output in a log file, the last lines
// of its stderr kept for error messages, and state under a temp dir marked
// with odbench's PID so a later run can remove it if this one is killed.
// It can signal (kill, pause, resume) and stop its processes.
type supervisor struct {
	dir    string
	logDir string
	procs  []*proc

	mu     sync.Mutex
	deaths []Death
	notice chan struct{} // signalled (never blocking) at each death

	stopOnce sync.Once
	stopErr  error
}

// proc is one node process: its identity and data dir, and, while it
// runs, its command and a channel closed when it exits.
type proc struct {
	id      string
	dataDir string

	mu     sync.Mutex
	api    string // the node's API base URL, once known
	cmd    *exec.Cmd
	exited chan struct{}
	tail   *tailBuffer
	// asked: odbench itself ended this process (kill, stop), so its exit
	// is not a death.
	asked bool
}

const tempPrefix = "odbench-local-"

// newSupervisor makes the temp dir of a cluster of n nodes (removing those
// of killed runs first), marks it with odbench's PID, and names the nodes
// n1..nN with a data dir each. Logs go to logDir/size-N, or into the temp
// dir when logDir is empty.
func newSupervisor(tempRoot, logDir string, n int) (*supervisor, error) {
	removeStale(tempRoot)
	dir, err := os.MkdirTemp(tempRoot, tempPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logs := filepath.Join(dir, "logs")
	if logDir != "" {
		logs = filepath.Join(logDir, fmt.Sprintf("size-%d", n))
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &supervisor{dir: dir, logDir: logs, notice: make(chan struct{}, 1)}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		s.procs = append(s.procs, &proc{id: id, dataDir: filepath.Join(dir, id)})
	}
	return s, nil
}

func (s *supervisor) ids() []string {
	out := make([]string, len(s.procs))
	for i, p := range s.procs {
		out[i] = p.id
	}
	return out
}

func (s *supervisor) proc(id string) (*proc, error) {
	for _, p := range s.procs {
		if p.id == id {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrNoNode, id)
}

// eachOther runs start for nodes 2..N in parallel and joins their errors.
func (s *supervisor) eachOther(start func(p *proc) error) error {
	errs := make([]error, len(s.procs))
	var wg sync.WaitGroup
	for i, p := range s.procs[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = start(p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// start starts bin with args for p in its own process group (and, with a
// cgroup directory's fd, in that cgroup from its first instruction), dir
// as working directory (empty: inherited) and extra environment. Every
// output line goes to the node's log file unless onLine (called with
// stdout true for stdout lines) consumes it. It returns a channel closed
// at exit.
func (s *supervisor) start(p *proc, bin string, args []string, dir string, env []string, cgroupFD int,
	onLine func(line string, stdout bool) bool) (<-chan struct{}, error) {
	logFile, err := os.OpenFile(filepath.Join(s.logDir, p.id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	tail := newTailBuffer(20)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = procAttr(cgroupFD)
	cmd.Dir = dir
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	var logMu sync.Mutex
	fmt.Fprintf(logFile, "--- %s: %s %s\n", time.Now().UTC().Format(time.RFC3339), bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", p.id, err)
	}
	exited := make(chan struct{})
	var readers sync.WaitGroup
	pump := func(r io.Reader, isStdout bool) {
		defer readers.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if onLine != nil && onLine(line, isStdout) {
				continue
			}
			logMu.Lock()
			fmt.Fprintln(logFile, line)
			logMu.Unlock()
			if !isStdout {
				fmt.Fprintln(tail, line)
			}
		}
	}
	readers.Add(2)
	go pump(stdout, true)
	go pump(stderr, false)
	p.mu.Lock()
	p.cmd, p.exited, p.tail, p.asked = cmd, exited, tail, false
	p.mu.Unlock()
	go func() {
		readers.Wait() // Wait must follow the reads of the pipes
		_ = cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		asked := p.asked
		p.mu.Unlock()
		if !asked {
			s.died(p, cmd.ProcessState)
		}
		close(exited)
	}()
	return exited, nil
}

// ask marks p's coming exit as odbench's doing.
func (p *proc) ask() {
	p.mu.Lock()
	p.asked = true
	p.mu.Unlock()
}

// running reports whether p's process is up.
func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *proc) setAPI(api string) {
	p.mu.Lock()
	p.api = strings.TrimRight(api, "/")
	p.mu.Unlock()
}

func (p *proc) apiURL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.api
}

// lastLines returns the tail of p's stderr, for error messages.
func (p *proc) lastLines() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tail == nil {
		return "  (no output)"
	}
	return p.tail.String()
}

// exitState describes how p's process ended (after exited closed).
func (p *proc) exitState() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.ProcessState == nil {
		return "not started"
	}
	return p.cmd.ProcessState.String()
}

// Nodes returns every node, with the PID of its current process (0 while
// it is down).
func (s *supervisor) Nodes() []Node {
	out := make([]Node, 0, len(s.procs))
	for _, p := range s.procs {
		p.mu.Lock()
		n := Node{ID: p.id, API: p.api}
		if p.cmd != nil && p.cmd.Process != nil {
			select {
			case <-p.exited:
			default:
				n.PID = p.cmd.Process.Pid
			}
		}
		p.mu.Unlock()
		out = append(out, n)
	}
	return out
}

// signal sends sig to p's process group.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return fmt.Errorf("node %s is not running", p.id)
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Kill SIGKILLs a node's process group and waits for it to exit. The exit
// is asked for: it is not a death.
func (s *supervisor) Kill(ctx context.Context, id string) error {
	p, err := s.proc(id)
	if err != nil {
		return err
	}
	if !p.running() {
		return fmt.Errorf("node %s is not running", id)
	}
	p.ask()
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause freezes a node (SIGSTOP to its process group).
func (s *supervisor) Pause(ctx context.Context, id string) error {
	p, err := s.proc(id)
	if err != nil {
		return err
	}
	return p.signal(syscall.SIGSTOP)
}

// Resume thaws a paused node (SIGCONT).
func (s *supervisor) Resume(ctx context.Context, id string) error {
	p, err := s.proc(id)
	if err != nil {
		return err
	}
	return p.signal(syscall.SIGCONT)
}

// Stop terminates every node (SIGTERM, then SIGKILL of the process group
// after 3 s) and removes the temp dir. Safe to call twice.
func (s *supervisor) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, p := range s.procs {
			if !p.running() {
				continue
			}
			wg.Add(1)
			p.ask()
			go func() {
				defer wg.Done()
				_ = p.signal(syscall.SIGCONT) // a paused node cannot act on SIGTERM
				_ = p.signal(syscall.SIGTERM)
				t := time.NewTimer(3 * time.Second)
				defer t.Stop()
				select {
				case <-p.exited:
				case <-t.C:
				case <-ctx.Done():
				}
				_ = p.signal(syscall.SIGKILL) // the group: nothing the node started survives
				<-p.exited
			}()
		}
		wg.Wait()
		s.stopErr = os.RemoveAll(s.dir)
	})
	return s.stopErr
}

// removeStale deletes temp dirs of clusters whose odbench process is gone
// (killed before it could clean up).
func removeStale(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(dir)
		}
	}
}

// tailBuffer keeps the last lines written to it, for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	lines []string
	part  []byte
	max   int
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, b...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		t.part = t.part[i+1:]
		if len(t.lines) > t.max {
			t.lines = t.lines[1:]
		}
	}
	if len(t.part) > 4096 {
		t.part = t.part[len(t.part)-4096:]
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := strings.Join(t.lines, "\n")
	if len(t.part) > 0 {
		out += "\n" + string(t.part)
	}
	if out == "" {
		return "  (no output)"
	}
	return out
}
