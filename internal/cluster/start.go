package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/target"
)

// StartOptions configure the driver that starts clusters of a target
// profile (its start section).
type StartOptions struct {
	Profile *target.Profile
	// Self is the odbench executable ({{.Self}} in the profile).
	Self string
	// Binary, when set, replaces the first word of the member command: the
	// build of the baseline side of an A/B run.
	Binary string
	// ExtraArgs are appended to every member's command line.
	ExtraArgs []string
	// LogDir keeps member logs (one file per member and cluster size)
	// after the run; empty keeps them in the temp dir, removed at Stop.
	LogDir string
	// TempRoot holds the clusters' temp dirs (os.TempDir() if empty).
	TempRoot string
	// RateLimit paces odbench's own requests to the members (per second;
	// 0: not paced).
	RateLimit float64
	// Network makes network faults from outside the members (the
	// profile's faults.network kernel); nil when it cannot, NetworkWhy
	// then says why.
	Network    NetworkFaults
	NetworkWhy string
}

// Starter starts clusters of a target profile: every member from the
// profile's templates, its named ports picked free beforehand, started
// all at once or member 1 first, then waited for until the profile's
// ready conditions hold on every member.
type Starter struct {
	opt StartOptions
}

var _ Driver = (*Starter)(nil)

// NewStarter checks the options; the profile must have a start section.
func NewStarter(opt StartOptions) (*Starter, error) {
	if opt.Profile == nil || opt.Profile.Start == nil {
		return nil, fmt.Errorf("%w: the target profile has no start section: give its members' URLs (--targets)", ErrStart)
	}
	if opt.TempRoot == "" {
		opt.TempRoot = os.TempDir()
	}
	return &Starter{opt: opt}, nil
}

// Name names the profile whose clusters it starts.
func (d *Starter) Name() string { return d.opt.Profile.Name }

// Version runs the profile's version command (with Binary in place of
// its first word, when that is the member binary).
func (d *Starter) Version(ctx context.Context) (string, error) {
	s := d.opt.Profile.Start
	if len(s.VersionCommand) == 0 {
		return "", fmt.Errorf("the %s profile has no start.version_command", d.opt.Profile.Name)
	}
	v := MemberVarsSelf(d.opt.Self)
	argv, err := renderAll("start.version_command", s.VersionCommand, v)
	if err != nil {
		return "", err
	}
	if d.opt.Binary != "" && len(s.Command) > 0 && s.VersionCommand[0] == s.Command[0] {
		argv[0] = d.opt.Binary
	}
	return commandVersion(ctx, argv)
}

// MemberVarsSelf returns the template variables that do not depend on a
// member: the odbench executable and its PID.
func MemberVarsSelf(self string) target.MemberVars {
	return target.MemberVars{Self: self, ParentPID: os.Getpid()}
}

// Start starts n members and waits until the cluster has formed. A
// cluster whose members run but never meet the ready conditions is
// returned beside an error wrapping ErrNotFormed, so the runner can
// measure it anyway or stop it.
func (d *Starter) Start(ctx context.Context, n int) (Cluster, error) {
	if n < 1 {
		return nil, fmt.Errorf("%w: cluster size must be at least 1", ErrStart)
	}
	for attempt := 1; ; attempt++ {
		c, err := d.startOnce(ctx, n)
		if attempt == startAttempts || !portTaken(err) || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				err = fmt.Errorf("%w (attempt %d of %d; the earlier ones lost a port to another process)", err, attempt, startAttempts)
			}
			return c, err
		}
	}
}

// startOnce starts n members on newly chosen ports.
func (d *Starter) startOnce(ctx context.Context, n int) (Cluster, error) {
	sup, err := newSupervisor(d.opt.TempRoot, d.opt.LogDir, n)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	c := &startedCluster{supervisor: sup, drv: d, caller: newCaller(d.opt.RateLimit), captured: map[string]string{}}
	fail := func(err error) (Cluster, error) {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = c.Stop(stopCtx)
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	if err := c.plan(n); err != nil {
		return fail(err)
	}
	if d.opt.Network != nil && d.opt.Profile.Faults.Network == target.NetworkKernel {
		if c.net, err = d.opt.Network.Prepare(c.sup().dir, sup.ids()); err != nil {
			c.netWhy = err.Error()
		}
	}
	switch d.opt.Profile.Start.Order {
	case target.OrderFirst:
		if err := c.spawn(ctx, sup.procs[0], false); err != nil {
			return fail(err)
		}
		err = c.eachOther(func(p *proc) error { return c.spawn(ctx, p, false) })
	default:
		err = c.each(sup.procs, func(p *proc) error { return c.spawn(ctx, p, false) })
	}
	if err != nil {
		return fail(err)
	}
	if err := c.waitFormed(ctx, n); err != nil {
		return c, err // running: the caller measures it anyway or stops it
	}
	return c, nil
}

// startedCluster is a cluster the Starter started.
type startedCluster struct {
	*supervisor
	drv    *Starter
	caller *caller
	net    NetworkCluster // nil: no kernel network faults
	netWhy string

	mu       sync.Mutex
	vars     map[string]*target.MemberVars
	captured map[string]string // from member 1's output
}

func (c *startedCluster) sup() *supervisor { return c.supervisor }

// plan picks every member's ports and builds its template variables.
func (c *startedCluster) plan(n int) error {
	s := c.drv.opt.Profile.Start
	ports, err := pickPorts(n * len(s.Ports))
	if err != nil {
		return err
	}
	apiT, err := target.ParseTemplate("start.api", s.APIURL())
	if err != nil {
		return err
	}
	members := make([]target.Member, n)
	for i, p := range c.procs {
		m := target.Member{ID: p.id, Index: i + 1, Ports: map[string]int{}}
		for j, name := range s.Ports {
			m.Ports[name] = ports[i*len(s.Ports)+j]
		}
		if m.API, err = apiT.Render(target.MemberVars{Member: m}); err != nil {
			return fmt.Errorf("start.api: %v", err)
		}
		members[i] = m
	}
	c.vars = map[string]*target.MemberVars{}
	cluster := "odbench-" + strings.TrimPrefix(c.dir[strings.LastIndex(c.dir, "/")+1:], tempPrefix)
	for i, p := range c.procs {
		v := MemberVarsSelf(c.drv.opt.Self)
		v.Member, v.DataDir, v.Size, v.Members, v.First, v.Cluster = members[i], p.dataDir, n, members, members[0], cluster
		if i > 0 {
			v.Via = members[0]
		}
		c.vars[p.id] = &v
		p.setAPI(members[i].API)
	}
	return nil
}

// each runs start for procs in parallel and joins their errors.
func (c *startedCluster) each(procs []*proc, start func(p *proc) error) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = start(p)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitFormed polls until the profile's ready conditions hold on every
// member up (and they agree on a leader), or ctx ends.
func (c *startedCluster) waitFormed(ctx context.Context, size int) error {
	return awaitFormed(ctx, c.drv.opt.Profile, c.caller, c.upNodes, size)
}

// upNodes returns the members whose process runs.
func (c *startedCluster) upNodes() []Node {
	var out []Node
	for _, n := range c.Nodes() {
		if n.PID > 0 {
			out = append(out, n)
		}
	}
	return out
}

// Settings describe the cluster for the results file.
func (c *startedCluster) Settings() map[string]string {
	p := c.drv.opt.Profile
	out := map[string]string{"driver": "start", "target": p.Name, "profile": p.Source,
		"command": strings.Join(append(append([]string(nil), p.Start.Command...), c.drv.opt.ExtraArgs...), " "), "logs": c.logDir}
	if c.drv.opt.Binary != "" {
		out["binary"] = c.drv.opt.Binary
	}
	return out
}

// ErrNoStatus: the target profile has no status section, so members
// cannot be asked who leads.
var ErrNoStatus = errors.New("the target profile has no status section")

func (c *startedCluster) observer() *observer {
	return &observer{profile: c.drv.opt.Profile, caller: c.caller, nodes: c.upNodes}
}

// Status asks member n its view, through the profile's status request.
func (c *startedCluster) Status(ctx context.Context, n Node) (MemberStatus, error) {
	if c.drv.opt.Profile.Status == nil {
		return MemberStatus{}, ErrNoStatus
	}
	return c.observer().Status(ctx, n)
}

// Leader returns the member every member up names as the leader.
func (c *startedCluster) Leader(ctx context.Context) (Node, error) {
	if c.drv.opt.Profile.Status == nil {
		return Node{}, ErrNoStatus
	}
	return c.observer().Leader(ctx)
}

// Healthy: a leader every member up follows, every member caught up with
// its commit index (nil without a status section: nothing to tell by).
func (c *startedCluster) Healthy(ctx context.Context) error {
	if c.drv.opt.Profile.Status == nil {
		return nil
	}
	return c.observer().Healthy(ctx)
}

var (
	_ Observer = (*startedCluster)(nil)
	_ Healther = (*startedCluster)(nil)
)
