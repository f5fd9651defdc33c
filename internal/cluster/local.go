package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
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

// Start spawns n nodes: the first bootstraps, the others join through it
// in parallel. It returns once every node sees the same leader, n Raft
// voters and n alive gossip members.
func (l *Local) Start(ctx context.Context, n int) (Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: cluster size must be at least 1", ErrStart)
	}
	sup, err := newSupervisor(l.opt.TempRoot, l.opt.LogDir, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	c := &localCluster{supervisor: sup, opt: l.opt, client: &http.Client{Timeout: 2 * time.Second}, ready: map[string]readyLine{}}
	fail := func(err error) (Cluster, error) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Stop(stopCtx)
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	if err := c.spawn(ctx, c.procs[0], []string{"--bootstrap"}); err != nil {
		return fail(err)
	}
	join := []string{"--join", c.procs[0].apiURL()}
	if err := c.eachOther(func(p *proc) error { return c.spawn(ctx, p, join) }); err != nil {
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

type localCluster struct {
	*supervisor
	opt    LocalOptions
	client *http.Client

	mu    sync.Mutex
	ready map[string]readyLine // each node's last ready line: its addresses
}

// readyOf returns the addresses node id last announced.
func (c *localCluster) readyOf(id string) readyLine {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready[id]
}

var (
	_ Cluster     = (*localCluster)(nil)
	_ Killer      = (*localCluster)(nil)
	_ Restarter   = (*localCluster)(nil)
	_ Pauser      = (*localCluster)(nil)
	_ Partitioner = (*localCluster)(nil)
	_ Shaper      = (*localCluster)(nil)
	_ Describer   = (*localCluster)(nil)
	_ Watcher     = (*localCluster)(nil)
	_ Healther    = (*localCluster)(nil)
)

// spawn starts p as `odbench node` and waits for its ready line.
func (c *localCluster) spawn(ctx context.Context, p *proc, role []string) error {
	args := []string{"node", "--id", p.id, "--data-dir", p.dataDir, "--bind", "127.0.0.1",
		"--parent-pid", strconv.Itoa(os.Getpid())}
	args = append(args, role...)
	args = append(args, c.opt.NodeArgs...)
	readyCh := make(chan readyLine, 1)
	first := true
	exited, err := c.start(p, c.opt.Binary, args, "", nil, func(line string, stdout bool) bool {
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
		c.mu.Lock()
		c.ready[p.id] = r
		c.mu.Unlock()
		p.setAPI(r.API)
		return nil
	case <-exited:
		return fmt.Errorf("node %s exited before it was ready (%s); last log lines:\n%s", p.id, p.exitState(), p.lastLines())
	case <-ctx.Done():
		return fmt.Errorf("node %s printed no ready line: %v; last log lines:\n%s", p.id, ctx.Err(), p.lastLines())
	}
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
	var lastNode string
	err := pollUntil(ctx, 50*time.Millisecond, nil, func() error {
		var err error
		err, lastNode = c.converged(ctx, ids, exclude)
		return err
	})
	if err == nil {
		return nil
	}
	msg := fmt.Sprintf("the cluster did not converge (%v): %s: %v", ctx.Err(), lastNode, err)
	if p, perr := c.proc(lastNode); perr == nil {
		msg += "; last log lines of " + lastNode + ":\n" + p.lastLines()
	}
	return errors.New(msg)
}

func (c *localCluster) converged(ctx context.Context, ids, exclude []string) (error, string) {
	leader := ""
	voters := len(ids) + len(exclude)
	for _, id := range ids {
		p, _ := c.proc(id)
		var st status
		if err := c.getJSON(ctx, p.apiURL()+"/api/v1/cluster/status", &st); err != nil {
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

// Settings describe the cluster for the results file.
func (c *localCluster) Settings() map[string]string {
	return map[string]string{"driver": "local", "node_args": strings.Join(c.opt.NodeArgs, " "), "logs": c.logDir}
}

// Restart starts a stopped node again with its ID, data dir and ports, and
// waits until the cluster has converged with it.
func (c *localCluster) Restart(ctx context.Context, id string) error {
	p, err := c.proc(id)
	if err != nil {
		return err
	}
	if p.running() {
		return fmt.Errorf("node %s is running; kill it first", id)
	}
	var via string
	for _, other := range c.procs {
		if other != p && other.running() {
			via = other.apiURL()
			break
		}
	}
	role := []string{"--bootstrap"}
	if via != "" {
		role = []string{"--join", via}
	}
	prev := c.readyOf(id)
	role = append(role, "--api-port", port(prev.API), "--raft-port", port(prev.Raft), "--gossip-port", port(prev.Gossip))
	if err := c.spawn(ctx, p, role); err != nil {
		return err
	}
	var up, down []string
	for _, other := range c.procs {
		if other.running() {
			up = append(up, other.id)
		} else {
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

// Partition cuts the nodes in minority off from the others: every node
// drops Raft and gossip traffic to and from the other side.
func (c *localCluster) Partition(ctx context.Context, minority []string) error {
	for _, id := range minority {
		if _, err := c.proc(id); err != nil {
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
	for _, p := range c.procs {
		if !p.running() {
			continue
		}
		other := majority
		if !contains(minority, p.id) {
			other = minority
		}
		body, _ := json.Marshal(map[string]any{"drop": other})
		errs = append(errs, c.send(ctx, http.MethodPost, p.apiURL()+"/api/v1/admin/faults", body))
	}
	return errors.Join(errs...)
}

// Shape degrades every link between the nodes ids and the others, both
// ways, through the nodes' fault filters.
func (c *localCluster) Shape(ctx context.Context, ids []string, link LinkFault) error {
	for _, id := range ids {
		if _, err := c.proc(id); err != nil {
			return err
		}
	}
	rule := map[string]any{"delay": link.Delay.String(), "jitter": link.Jitter.String(),
		"loss_percent": link.LossPercent, "bandwidth_kb_per_s": link.BandwidthKBPerSec}
	var errs []error
	for _, p := range c.procs {
		if !p.running() {
			continue
		}
		links := map[string]any{}
		for _, other := range c.ids() {
			if other != p.id && contains(ids, p.id) != contains(ids, other) {
				links[other] = rule
			}
		}
		body, _ := json.Marshal(map[string]any{"links": links})
		errs = append(errs, c.send(ctx, http.MethodPost, p.apiURL()+"/api/v1/admin/faults", body))
	}
	return errors.Join(errs...)
}

// SlowDisk makes node id's Raft log writes wait delay.
func (c *localCluster) SlowDisk(ctx context.Context, id string, delay time.Duration) error {
	p, err := c.proc(id)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"disk_delay": delay.String()})
	return c.send(ctx, http.MethodPost, p.apiURL()+"/api/v1/admin/faults", body)
}

// Heal removes every fault filter.
func (c *localCluster) Heal(ctx context.Context) error {
	var errs []error
	for _, p := range c.procs {
		if p.running() {
			errs = append(errs, c.send(ctx, http.MethodDelete, p.apiURL()+"/api/v1/admin/faults", nil))
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

// Healthy checks that every running node follows one leader and has
// applied the leader's commit index, read first.
func (c *localCluster) Healthy(ctx context.Context) error {
	type health struct {
		LeaderID     string `json:"leader_id"`
		CommitIndex  uint64 `json:"commit_index"`
		AppliedIndex uint64 `json:"applied_index"`
		IsLeader     bool   `json:"is_leader"`
	}
	var leader string
	var commit uint64
	var nodes []*proc
	for _, p := range c.procs {
		if p.running() {
			nodes = append(nodes, p)
		}
	}
	for _, p := range nodes {
		var h health
		if err := c.getJSON(ctx, p.apiURL()+"/api/v1/cluster/status", &h); err != nil {
			return fmt.Errorf("node %s: %v", p.id, err)
		}
		if h.IsLeader {
			leader, commit = p.id, h.CommitIndex
		}
	}
	if leader == "" {
		return errors.New("no node leads")
	}
	for _, p := range nodes {
		var h health
		if err := c.getJSON(ctx, p.apiURL()+"/api/v1/cluster/status", &h); err != nil {
			return fmt.Errorf("node %s: %v", p.id, err)
		}
		switch {
		case h.LeaderID != leader:
			return fmt.Errorf("node %s follows %q, not the leader %s", p.id, h.LeaderID, leader)
		case h.AppliedIndex < commit:
			return fmt.Errorf("node %s has applied index %d, behind the leader's commit index %d", p.id, h.AppliedIndex, commit)
		}
	}
	return nil
}
