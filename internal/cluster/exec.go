package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"text/template"
	"time"
)

// ExecOptions configure the exec driver: any node binary, started from
// templates. Templates use Go's text/template with ExecVars; an unknown
// field is an error.
type ExecOptions struct {
	// Command is the argv, one template per argument; no shell is involved.
	Command []string
	// Env adds environment variables (values are templates).
	Env map[string]string
	// APIURL is the node's API base URL (default http://127.0.0.1:{{.APIPort}}).
	APIURL string
	// HealthURL, if set, is polled until it answers 2xx: the node is ready.
	HealthURL string
	// ReadyPattern, if set, is a regexp; the node is ready once a line of its
	// output matches. One of HealthURL and ReadyPattern is required.
	ReadyPattern string
	// ClusterReadyURL, if set, is rendered for every node and polled once
	// all are ready, until each answers 2xx: the cluster has formed (for
	// ollama-distributed: http://127.0.0.1:{{.APIPort}}/api/v1/cluster/leader).
	ClusterReadyURL string
	// Capture maps a name to a regexp with a group of that name, matched
	// against node 1's output; the values are {{.Captured.name}} in the
	// other nodes' templates (node 1 must print them before they start).
	Capture map[string]string
	// ConfigFile, with ConfigTemplate, renders a config file into the node's
	// directory (a path relative to it).
	ConfigFile     string
	ConfigTemplate string
	// VersionCommand, if set, is run once (argv, no shell) and the first
	// line of its output names the nodes' build in the results.
	VersionCommand []string
	// Ready, if it holds conditions, must hold on every node's answers
	// before the cluster counts as formed (cluster.ready).
	Ready    *ReadyChecks
	TempRoot string
	LogDir   string
}

// ExecVars are what the exec templates can use.
type ExecVars struct {
	ID    string
	Index int // 1-based
	// DataDir is the node's own directory, also its working directory.
	DataDir                             string
	APIPort, P2PPort, RaftPort, WebPort int
	// JoinAddr is node 1's API address (host:port); empty on node 1.
	JoinAddr string
	// Peers lists "127.0.0.1:P2PPort" of the nodes started before this one, comma-separated.
	Peers string
	// First is node 1's variables (nil on node 1).
	First *ExecVars
	// Captured holds the values captured from node 1's output.
	Captured map[string]string
}

// Exec starts clusters of any node binary.
type Exec struct {
	opt       ExecOptions
	argv      []*template.Template
	env       map[string]*template.Template
	apiURL    *template.Template
	healthURL *template.Template
	formed    *template.Template
	config    *template.Template
	ready     *regexp.Regexp
	capture   map[string]*regexp.Regexp
}

var _ Driver = (*Exec)(nil)

// NewExec checks and compiles the options, reporting every problem.
func NewExec(opt ExecOptions) (*Exec, error) {
	if opt.TempRoot == "" {
		opt.TempRoot = os.TempDir()
	}
	if opt.APIURL == "" {
		opt.APIURL = "http://127.0.0.1:{{.APIPort}}"
	}
	e := &Exec{opt: opt, env: map[string]*template.Template{}, capture: map[string]*regexp.Regexp{}}
	var errs []error
	parse := func(field, text string) *template.Template {
		t, err := template.New(field).Option("missingkey=error").Parse(text)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster.exec.%s: %v", field, err))
		}
		return t
	}
	if len(opt.Command) == 0 {
		errs = append(errs, errors.New("cluster.exec.command: must name the node binary and its arguments"))
	}
	for i, a := range opt.Command {
		e.argv = append(e.argv, parse(fmt.Sprintf("command[%d]", i), a))
	}
	for k, v := range opt.Env {
		e.env[k] = parse("env."+k, v)
	}
	e.apiURL = parse("api_url", opt.APIURL)
	if opt.HealthURL != "" {
		e.healthURL = parse("health_url", opt.HealthURL)
	}
	if opt.ClusterReadyURL != "" {
		e.formed = parse("cluster_ready_url", opt.ClusterReadyURL)
	}
	if opt.ReadyPattern != "" {
		re, err := regexp.Compile(opt.ReadyPattern)
		if err != nil {
			errs = append(errs, fmt.Errorf("cluster.exec.ready_pattern: %v", err))
		}
		e.ready = re
	}
	if opt.HealthURL == "" && opt.ReadyPattern == "" {
		errs = append(errs, errors.New("cluster.exec: set health_url or ready_pattern, so odbench knows when a node is ready"))
	}
	for name, pat := range opt.Capture {
		re, err := regexp.Compile(pat)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("cluster.exec.capture.%s: %v", name, err))
		case re.SubexpIndex(name) < 0:
			errs = append(errs, fmt.Errorf("cluster.exec.capture.%s: the pattern %q has no group named %s, as in (?P<%s>...)", name, pat, name, name))
		default:
			e.capture[name] = re
		}
	}
	if (opt.ConfigFile == "") != (opt.ConfigTemplate == "") {
		errs = append(errs, errors.New("cluster.exec.config_file and config_template: set both or neither"))
	} else if opt.ConfigFile != "" {
		if filepath.IsAbs(opt.ConfigFile) || strings.Contains(opt.ConfigFile, "..") {
			errs = append(errs, fmt.Errorf("cluster.exec.config_file: must be a path inside the node's directory, not %q", opt.ConfigFile))
		}
		e.config = parse("config_template", opt.ConfigTemplate)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// Name returns "exec".
func (e *Exec) Name() string { return "exec" }

// Start starts node 1, waits until it is ready and has printed every
// captured value, then starts the others in parallel.
func (e *Exec) Start(ctx context.Context, n int) (Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: cluster size must be at least 1", ErrStart)
	}
	sup, err := newSupervisor(e.opt.TempRoot, e.opt.LogDir, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	c := &execCluster{supervisor: sup, drv: e, vars: map[string]*ExecVars{}, captured: map[string]string{},
		client: &http.Client{Timeout: 2 * time.Second}}
	fail := func(err error) (Cluster, error) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = c.Stop(stopCtx)
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	var peers []string
	for i, p := range c.procs {
		if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
			return fail(err)
		}
		ports, err := freePorts(4)
		if err != nil {
			return fail(err)
		}
		v := &ExecVars{ID: p.id, Index: i + 1, DataDir: p.dataDir, APIPort: ports[0], P2PPort: ports[1], RaftPort: ports[2], WebPort: ports[3],
			Peers: strings.Join(peers, ","), Captured: c.captured}
		if i > 0 {
			v.First = c.vars[c.procs[0].id]
			v.JoinAddr = fmt.Sprintf("127.0.0.1:%d", v.First.APIPort)
		}
		c.vars[p.id] = v
		peers = append(peers, fmt.Sprintf("127.0.0.1:%d", v.P2PPort))
	}
	if err := c.spawn(ctx, c.procs[0], true); err != nil {
		return fail(err)
	}
	if err := c.eachOther(func(p *proc) error { return c.spawn(ctx, p, false) }); err != nil {
		return fail(err)
	}
	if e.formed != nil {
		for _, p := range c.procs {
			url, err := render(e.formed, c.vars[p.id])
			if err != nil {
				return fail(fmt.Errorf("cluster_ready_url: %v", err))
			}
			if err := c.waitHealthy(ctx, url, nil); err != nil {
				return fail(fmt.Errorf("the cluster did not form: node %s: %v", p.id, err))
			}
		}
	}
	if err := waitFormed(ctx, e.opt.Ready, c.client, c, n); err != nil {
		return c, err // running: the caller measures it anyway or stops it
	}
	return c, nil
}

// freePorts asks the kernel for n free loopback ports.
func freePorts(n int) ([]int, error) {
	var out []int
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

type execCluster struct {
	*supervisor
	drv    *Exec
	vars   map[string]*ExecVars
	client *http.Client

	mu       sync.Mutex
	captured map[string]string // filled from node 1's output
}

var (
	_ Cluster   = (*execCluster)(nil)
	_ Killer    = (*execCluster)(nil)
	_ Restarter = (*execCluster)(nil)
	_ Pauser    = (*execCluster)(nil)
	_ Describer = (*execCluster)(nil)
	_ Watcher   = (*execCluster)(nil)
)

func render(t *template.Template, v *ExecVars) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// spawn renders p's templates, starts it and waits until it is ready
// (and, for node 1 when capturing, until every value was captured).
func (c *execCluster) spawn(ctx context.Context, p *proc, first bool) error {
	e := c.drv
	c.mu.Lock()
	v := *c.vars[p.id]
	v.Captured = map[string]string{}
	for k, val := range c.captured {
		v.Captured[k] = val
	}
	c.mu.Unlock()
	var argv []string
	for _, t := range e.argv {
		a, err := render(t, &v)
		if err != nil {
			return fmt.Errorf("node %s: command: %v", p.id, err)
		}
		argv = append(argv, a)
	}
	var env []string
	for k, t := range e.env {
		val, err := render(t, &v)
		if err != nil {
			return fmt.Errorf("node %s: env %s: %v", p.id, k, err)
		}
		env = append(env, k+"="+val)
	}
	sort.Strings(env)
	api, err := render(e.apiURL, &v)
	if err != nil {
		return fmt.Errorf("node %s: api_url: %v", p.id, err)
	}
	if e.config != nil {
		text, err := render(e.config, &v)
		if err != nil {
			return fmt.Errorf("node %s: config_template: %v", p.id, err)
		}
		if err := os.WriteFile(filepath.Join(p.dataDir, e.opt.ConfigFile), []byte(text), 0o644); err != nil {
			return err
		}
	}
	readyLine := make(chan struct{})
	var readyOnce sync.Once
	wantCapture := first && len(e.capture) > 0
	captured := make(chan struct{})
	var capOnce sync.Once
	if !wantCapture {
		capOnce.Do(func() { close(captured) })
	}
	exited, err := c.start(p, argv[0], argv[1:], p.dataDir, env, func(line string, _ bool) bool {
		if e.ready != nil && e.ready.MatchString(line) {
			readyOnce.Do(func() { close(readyLine) })
		}
		if wantCapture {
			c.mu.Lock()
			for name, re := range e.capture {
				if m := re.FindStringSubmatch(line); m != nil {
					c.captured[name] = m[re.SubexpIndex(name)]
				}
			}
			done := len(c.captured) == len(e.capture)
			c.mu.Unlock()
			if done {
				capOnce.Do(func() { close(captured) })
			}
		}
		return false
	})
	if err != nil {
		return err
	}
	p.setAPI(api)
	fail := func(what string) error {
		select {
		case <-exited:
			return fmt.Errorf("node %s exited before %s (%s); last log lines:\n%s", p.id, what, p.exitState(), p.lastLines())
		default:
			return fmt.Errorf("node %s: %s: %v; last log lines:\n%s", p.id, what, ctx.Err(), p.lastLines())
		}
	}
	if e.ready != nil {
		select {
		case <-readyLine:
		case <-exited:
			return fail("it printed a line matching ready_pattern")
		case <-ctx.Done():
			return fail("no line matched ready_pattern")
		}
	}
	if e.healthURL != nil {
		url, err := render(e.healthURL, &v)
		if err != nil {
			return fmt.Errorf("node %s: health_url: %v", p.id, err)
		}
		if err := c.waitHealthy(ctx, url, exited); err != nil {
			return fail(err.Error())
		}
	}
	select {
	case <-captured:
	case <-exited:
		return fail("it printed every captured value")
	case <-ctx.Done():
		return fail(fmt.Sprintf("not every capture matched (have %v)", c.capturedNames()))
	}
	return nil
}

func (c *execCluster) capturedNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.captured {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// waitHealthy polls url until it answers 2xx, ctx ends or exited closes.
func (c *execCluster) waitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	return pollUntil(ctx, 100*time.Millisecond, exited, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.client.Do(req)
		if err != nil {
			return fmt.Errorf("%s never answered 2xx (last: %v)", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s never answered 2xx (last: %s)", url, resp.Status)
		}
		return nil
	})
}

// Restart starts a stopped node again: same ID, directory, ports and
// captured values.
func (c *execCluster) Restart(ctx context.Context, id string) error {
	p, err := c.proc(id)
	if err != nil {
		return err
	}
	if p.running() {
		return fmt.Errorf("node %s is running; kill it first", id)
	}
	return c.spawn(ctx, p, false)
}

// Settings describe the cluster for the results file.
func (c *execCluster) Settings() map[string]string {
	return map[string]string{"driver": "exec", "command": strings.Join(c.drv.opt.Command, " "), "logs": c.logDir}
}
