package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/target"
)

// External is a driver for a cluster that is already running. It starts
// nothing and stops nothing; it checks that every node answers its
// profile's health request, and that the profile's ready conditions hold.
type External struct {
	URLs    []string
	Profile *target.Profile
	// Timeout bounds the readiness check.
	Timeout time.Duration
	// RateLimit paces odbench's own requests (per second; 0: not paced).
	RateLimit float64
}

var _ Driver = (*External)(nil)

// defaultHealth is asked of nodes whose profile names no health request.
var defaultHealth = target.Request{Method: http.MethodGet, Path: "/api/v1/health"}

// NewExternal returns a driver for the nodes at urls, observed through
// profile (nil: only GET /api/v1/health is asked).
func NewExternal(urls []string, profile *target.Profile, timeout time.Duration) *External {
	clean := make([]string, len(urls))
	for i, u := range urls {
		clean[i] = strings.TrimRight(u, "/")
	}
	if profile == nil {
		profile = &target.Profile{Name: "external"}
	}
	return &External{URLs: clean, Profile: profile, Timeout: timeout}
}

// Name returns "external".
func (e *External) Name() string { return "external" }

func (e *External) health() *target.Request {
	if e.Profile.Health != nil {
		return e.Profile.Health
	}
	return &defaultHealth
}

// Start checks that n equals the number of URLs and that each node
// answers its health request with 2xx; then that the ready conditions
// hold. It returns an error wrapping ErrStart naming every node that did
// not answer, or ErrNotFormed beside the cluster when they answer but do
// not meet the conditions.
func (e *External) Start(ctx context.Context, n int) (Cluster, error) {
	if n != len(e.URLs) {
		return nil, fmt.Errorf("%w: an external cluster has %d nodes (its URLs), not %d", ErrStart, len(e.URLs), n)
	}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	c := &external{drv: e, caller: newCaller(e.RateLimit)}
	for i, u := range e.URLs {
		c.nodes = append(c.nodes, Node{ID: fmt.Sprintf("node-%d", i+1), API: u})
	}
	errs := make([]error, len(e.URLs))
	var wg sync.WaitGroup
	for i, node := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.waitHealthy(ctx, node)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	if err := awaitFormed(ctx, e.Profile, c.caller, func() []Node { return c.nodes }, n); err != nil {
		return c, err
	}
	return c, nil
}

func (c *external) waitHealthy(ctx context.Context, n Node) error {
	h := c.drv.health()
	return pollUntil(ctx, 200*time.Millisecond, nil, func() error {
		a, err := c.caller.do(ctx, h, n.API, target.Vars{Member: n.ID})
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", n.ID, h.Describe(), n.API, err)
		}
		if a.Code/100 != 2 {
			return fmt.Errorf("%s: %s answered HTTP %d: %s", n.ID, h.Describe(), a.Code, clipLine(string(a.Body)))
		}
		return nil
	})
}

type external struct {
	drv    *External
	caller *caller
	nodes  []Node
}

var (
	_ Prober   = (*external)(nil)
	_ Observer = (*external)(nil)
	_ Healther = (*external)(nil)
)

func (c *external) Nodes() []Node              { return c.nodes }
func (c *external) Stop(context.Context) error { return nil }
func (c *external) Settings() map[string]string {
	return map[string]string{"driver": "external", "target": c.drv.Profile.Name}
}

// Probe asks every node's health request once (5 s at most) and names
// each that does not answer. Any HTTP answer but a gateway's (502, 504:
// what stands in front of the node could not reach it) shows the node's
// process alive: a 503 from a member that lost its leader, or a 429 from
// one that rate-limits, is a state of a live node, not a death.
func (c *external) Probe(ctx context.Context) []error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h := c.drv.health()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := c.caller.do(ctx, h, n.API, target.Vars{Member: n.ID})
			if err == nil && (a.Code == http.StatusBadGateway || a.Code == http.StatusGatewayTimeout) {
				err = fmt.Errorf("answered HTTP %d", a.Code)
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s (%s) stopped answering %s: %v", n.ID, n.API, h.Describe(), err)
			}
		}()
	}
	wg.Wait()
	var out []error
	for _, err := range errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

func (c *external) observer() *observer {
	return &observer{profile: c.drv.Profile, caller: c.caller, nodes: func() []Node { return c.nodes }}
}

// Status asks node n its view, through the profile's status request.
func (c *external) Status(ctx context.Context, n Node) (MemberStatus, error) {
	if c.drv.Profile.Status == nil {
		return MemberStatus{}, ErrNoStatus
	}
	return c.observer().Status(ctx, n)
}

// Leader returns the node every node names as the leader.
func (c *external) Leader(ctx context.Context) (Node, error) {
	if c.drv.Profile.Status == nil {
		return Node{}, ErrNoStatus
	}
	return c.observer().Leader(ctx)
}

// Healthy: a leader every node follows, every node caught up.
func (c *external) Healthy(ctx context.Context) error {
	if c.drv.Profile.Status == nil {
		return nil
	}
	return c.observer().Healthy(ctx)
}
