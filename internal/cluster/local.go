package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LocalOptions configure the local driver.
type LocalOptions struct {
	// Binary is the odbench executable to run as `odbench node`.
	Binary string
	// NodeArgs are appended to every node's command line.
	NodeArgs []string
	// LogDir keeps node logs (one file per node and cluster size) after the
	// run; empty keeps them in the temp dir, removed at Stop.
	LogDir string
	// TempRoot holds the clusters' temp dirs (os.TempDir() if empty).
	TempRoot string
}

// Local starts clusters of `odbench node` processes on loopback.
type Local struct{ opt LocalOptions }

var _ Driver = (*Local)(nil)

// NewLocal returns the local driver.
func NewLocal(opt LocalOptions) *Local {
	if opt.TempRoot == "" {
		opt.TempRoot = os.TempDir()
	}
	return &Local{opt: opt}
}

// Name returns "local".
func (l *Local) Name() string { return "local" }

const tempPrefix = "odbench-local-"

// Start spawns n nodes: the first bootstraps, the others join through it
// in parallel. It returns once every node sees the same leader, n Raft
// voters and n alive gossip members.
func (l *Local) Start(ctx context.Context, n int) (Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: cluster size must be at least 1", ErrStart)
	}
	g, err := newProcGroup(l.opt.TempRoot, l.opt.LogDir, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	c := &localCluster{procGroup: g, opt: l.opt, client: &http.Client{Timeout: 2 * time.Second}}
	fail := func(err error) (Cluster, error) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Stop(stopCtx)
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	if err := c.spawn(ctx, c.nodes[0], []string{"--bootstrap"}); err != nil {
		return fail(err)
	}
	join := []string{"--join", c.nodes[0].ready.API}
	if err := c.eachOther(func(nd *localNode) error { return c.spawn(ctx, nd, join) }); err != nil {
		return fail(err)
	}
	if err := c.waitConverged(ctx, c.ids(), nil); err != nil {
		return fail(err)
	}
	return c, nil
}

// readyLine is the JSON line `odbench node` prints once serving.
type readyLine struct {
	Event  string `json:"event"`
	ID     string `json:"id"`
	API    string `json:"api"`
	Raft   string `json:"raft"`
	Gossip string `json:"gossip"`
	PID    int    `json:"pid"`
}

type localNode struct {
	id      string
	dataDir string

	mu     sync.Mutex
	cmd    *exec.Cmd
	ready  readyLine
	exited chan struct{}
	paused bool
	tail   *tailBuffer
}

func (nd *localNode) running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.exited:
		return false
	default:
		return true
	}
}

type localCluster struct {
	*procGroup
	opt    LocalOptions
	client *http.Client
}

// newProcGroup makes the temp dir of a cluster of n nodes (removing those
// of killed runs first), marks it with odbench's PID, and names the nodes
// n1..nN with a data dir each. Logs go to logDir/size-N, or into the temp
// dir when logDir is empty.
func newProcGroup(tempRoot, logDir string, n int) (*procGroup, error) {
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
	g := &procGroup{dir: dir, logDir: logs}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		g.nodes = append(g.nodes, &localNode{id: id, dataDir: filepath.Join(dir, id)})
	}
	return g, nil
}

// procGroup is a set of node processes odbench started, each in its own
// process group, with logs in logDir and state under dir. The local and
// exec drivers share it.
type procGroup struct {
	dir    string
	logDir string
	nodes  []*localNode

	stopOnce sync.Once
	stopErr  error
}

var (
	_ Cluster     = (*localCluster)(nil)
	_ Killer      = (*localCluster)(nil)
	_ Restarter   = (*localCluster)(nil)
	_ Pauser      = (*localCluster)(nil)
	_ Partitioner = (*localCluster)(nil)
	_ Describer   = (*localCluster)(nil)
)

func (c *procGroup) ids() []string {
	out := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = nd.id
	}
	return out
}

func (c *procGroup) node(id string) (*localNode, error) {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd, nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrNoNode, id)
}

// spawn starts nd as `odbench node` and waits for its ready line.
func (c *localCluster) spawn(ctx context.Context, nd *localNode, role []string) error {
	args := []string{"node", "--id", nd.id, "--data-dir", nd.dataDir, "--bind", "127.0.0.1",
		"--parent-pid", strconv.Itoa(os.Getpid())}
	args = append(args, role...)
	args = append(args, c.opt.NodeArgs...)
	readyCh := make(chan readyLine, 1)
	first := true
	exited, err := c.startProc(nd, c.opt.Binary, args, "", nil, func(line string, stdout bool) bool {
		if !stdout || !first {
			return false
		}
		first = false
		var r readyLine
		if json.Unmarshal([]byte(line), &r) == nil && r.Event == "ready" {
			readyCh <- r
			return true
		}
		return false
	})
	if err != nil {
		return err
	}
	select {
	case r := <-readyCh:
		nd.mu.Lock()
		nd.ready = r
		nd.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("node %s exited before it was ready (%s); last log lines:\n%s", nd.id, nd.cmd.ProcessState, nd.tail.String())
	case <-ctx.Done():
		return fmt.Errorf("node %s printed no ready line: %v; last log lines:\n%s", nd.id, ctx.Err(), nd.tail.String())
	}
}

// eachOther runs start for nodes 2..N in parallel and joins their errors.
func (g *procGroup) eachOther(start func(nd *localNode) error) error {
	errs := make([]error, len(g.nodes))
	var wg sync.WaitGroup
	for i, nd := range g.nodes[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i+1] = start(nd)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startProc starts bin with args for nd in its own process group, dir as
// working directory (empty: inherited) and extra environment. Every output
// line goes to the node's log file unless onLine (called with stdout true
// for stdout lines) consumes it. It returns a channel closed at exit.
func (g *procGroup) startProc(nd *localNode, bin string, args []string, dir string, env []string,
	onLine func(line string, stdout bool) bool) (<-chan struct{}, error) {
	logFile, err := os.OpenFile(filepath.Join(g.logDir, nd.id+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	tail := newTailBuffer(20)
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = procAttr()
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
		return nil, fmt.Errorf("starting %s: %w", nd.id, err)
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
	go func() {
		readers.Wait() // Wait must follow the reads of the pipes
		_ = cmd.Wait()
		logFile.Close()
		close(exited)
	}()
	nd.mu.Lock()
	nd.cmd, nd.exited, nd.tail, nd.paused = cmd, exited, tail, false
	nd.mu.Unlock()
	return exited, nil
}

// status is the part of /api/v1/cluster/status the driver checks.
type status struct {
	LeaderID   string `json:"leader_id"`
	Registered int    `json:"registered"`
	Peers      []struct {
		ID string `json:"id"`
	} `json:"peers"`
	Members []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"members"`
}

// waitConverged polls the nodes in ids until they agree on a leader (not
// in exclude), each lists len(ids)+len(exclude) voters and sees every node
// of ids alive in gossip.
func (c *localCluster) waitConverged(ctx context.Context, ids, exclude []string) error {
	var last error
	var lastNode string
	for {
		last, lastNode = c.converged(ctx, ids, exclude)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("the cluster did not converge (%v): %s: %v", ctx.Err(), lastNode, last)
			if nd, err := c.node(lastNode); err == nil && nd.tail != nil {
				msg += "; last log lines of " + lastNode + ":\n" + nd.tail.String()
			}
			return errors.New(msg)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *localCluster) converged(ctx context.Context, ids, exclude []string) (error, string) {
	leader := ""
	voters := len(ids) + len(exclude)
	for _, id := range ids {
		nd, _ := c.node(id)
		var st status
		if err := c.getJSON(ctx, nd.ready.API+"/api/v1/cluster/status", &st); err != nil {
			return err, id
		}
		switch {
		case st.LeaderID == "":
			return errors.New("no leader yet"), id
		case leader != "" && st.LeaderID != leader:
			return fmt.Errorf("sees leader %s, another node sees %s", st.LeaderID, leader), id
		case contains(exclude, st.LeaderID):
			return fmt.Errorf("still follows %s", st.LeaderID), id
		case len(st.Peers) != voters:
			return fmt.Errorf("lists %d voters, want %d", len(st.Peers), voters), id
		case st.Registered != voters:
			return fmt.Errorf("has %d nodes in its registry, want %d", st.Registered, voters), id
		}
		leader = st.LeaderID
		alive := 0
		for _, m := range st.Members {
			if m.State == "alive" && contains(ids, m.ID) {
				alive++
			}
		}
		if alive != len(ids) {
			return fmt.Errorf("sees %d of %d nodes alive in gossip", alive, len(ids)), id
		}
	}
	return nil, ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *localCluster) getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// Nodes returns every node, with the PID of its current process (0 while
// it is down).
func (c *procGroup) Nodes() []Node {
	out := make([]Node, 0, len(c.nodes))
	for _, nd := range c.nodes {
		nd.mu.Lock()
		n := Node{ID: nd.id, API: nd.ready.API}
		if nd.cmd != nil && nd.cmd.Process != nil {
			select {
			case <-nd.exited:
			default:
				n.PID = nd.cmd.Process.Pid
			}
		}
		nd.mu.Unlock()
		out = append(out, n)
	}
	return out
}

// Settings describe the cluster for the results file.
func (c *localCluster) Settings() map[string]string {
	return map[string]string{"driver": "local", "node_args": strings.Join(c.opt.NodeArgs, " "), "logs": c.logDir}
}

// signal sends sig to nd's process group.
func (nd *localNode) signal(sig syscall.Signal) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil || nd.cmd.Process == nil {
		return fmt.Errorf("node %s is not running", nd.id)
	}
	return syscall.Kill(-nd.cmd.Process.Pid, sig)
}

// Kill SIGKILLs a node's process group and waits for it to exit.
func (c *procGroup) Kill(ctx context.Context, id string) error {
	nd, err := c.node(id)
	if err != nil {
		return err
	}
	if !nd.running() {
		return fmt.Errorf("node %s is not running", id)
	}
	if err := nd.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-nd.exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Restart starts a stopped node again with its ID, data dir and ports, and
// waits until the cluster has converged with it.
func (c *localCluster) Restart(ctx context.Context, id string) error {
	nd, err := c.node(id)
	if err != nil {
		return err
	}
	if nd.running() {
		return fmt.Errorf("node %s is running; kill it first", id)
	}
	var via string
	for _, other := range c.nodes {
		if other != nd && other.running() {
			via = other.ready.API
			break
		}
	}
	role := []string{"--bootstrap"}
	if via != "" {
		role = []string{"--join", via}
	}
	prev := nd.ready
	role = append(role, "--api-port", port(prev.API), "--raft-port", port(prev.Raft), "--gossip-port", port(prev.Gossip))
	if err := c.spawn(ctx, nd, role); err != nil {
		return err
	}
	var up []string
	for _, other := range c.nodes {
		if other.running() {
			up = append(up, other.id)
		}
	}
	var down []string
	for _, other := range c.nodes {
		if !contains(up, other.id) {
			down = append(down, other.id)
		}
	}
	return c.waitConverged(ctx, up, down)
}

func port(addr string) string {
	if i := strings.LastIndex(addr, ":"); i >= 0 {
		return addr[i+1:]
	}
	return "0"
}

// Pause freezes a node (SIGSTOP); Resume thaws it (SIGCONT).
func (c *procGroup) Pause(ctx context.Context, id string) error {
	nd, err := c.node(id)
	if err != nil {
		return err
	}
	if err := nd.signal(syscall.SIGSTOP); err != nil {
		return err
	}
	nd.mu.Lock()
	nd.paused = true
	nd.mu.Unlock()
	return nil
}

// Resume thaws a paused node.
func (c *procGroup) Resume(ctx context.Context, id string) error {
	nd, err := c.node(id)
	if err != nil {
		return err
	}
	if err := nd.signal(syscall.SIGCONT); err != nil {
		return err
	}
	nd.mu.Lock()
	nd.paused = false
	nd.mu.Unlock()
	return nil
}

// Partition cuts the nodes in minority off from the others: every node
// drops Raft and gossip traffic to and from the other side.
func (c *localCluster) Partition(ctx context.Context, minority []string) error {
	for _, id := range minority {
		if _, err := c.node(id); err != nil {
			return err
		}
	}
	var majority []string
	for _, id := range c.ids() {
		if !contains(minority, id) {
			majority = append(majority, id)
		}
	}
	var errs []error
	for _, nd := range c.nodes {
		if !nd.running() {
			continue
		}
		other := majority
		if !contains(minority, nd.id) {
			other = minority
		}
		body, _ := json.Marshal(map[string]any{"drop": other})
		errs = append(errs, c.send(ctx, http.MethodPost, nd.ready.API+"/api/v1/admin/faults", body))
	}
	return errors.Join(errs...)
}

// Heal removes every fault filter.
func (c *localCluster) Heal(ctx context.Context) error {
	var errs []error
	for _, nd := range c.nodes {
		if nd.running() {
			errs = append(errs, c.send(ctx, http.MethodDelete, nd.ready.API+"/api/v1/admin/faults", nil))
		}
	}
	return errors.Join(errs...)
}

func (c *localCluster) send(ctx context.Context, method, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// Stop terminates every node (SIGTERM, then SIGKILL of the process group
// after 3 s) and removes the temp dir. Safe to call twice.
func (c *procGroup) Stop(ctx context.Context) error {
	c.stopOnce.Do(func() {
		var wg sync.WaitGroup
		for _, nd := range c.nodes {
			if !nd.running() {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = nd.signal(syscall.SIGCONT) // a paused node cannot act on SIGTERM
				_ = nd.signal(syscall.SIGTERM)
				select {
				case <-nd.exited:
				case <-time.After(3 * time.Second):
				case <-ctx.Done():
				}
				_ = nd.signal(syscall.SIGKILL) // the group: nothing the node started survives
				<-nd.exited
			}()
		}
		wg.Wait()
		c.stopErr = os.RemoveAll(c.dir)
	})
	return c.stopErr
}

// removeStale deletes temp dirs of local clusters whose odbench process is
// gone (killed before it could clean up).
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

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
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
	return len(p), nil
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
