package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// External is a driver for a cluster that is already running. It starts
// nothing and stops nothing; it only checks that every node answers.
type External struct {
	URLs []string
	// HealthPath is requested on every node to check readiness.
	HealthPath string
	// Timeout bounds the readiness check.
	Timeout time.Duration
	Client  *http.Client
	// Ready, if it holds conditions, must hold on every node's answers
	// before the cluster counts as formed (cluster.ready).
	Ready *ReadyChecks
}

var _ Driver = (*External)(nil)

// NewExternal returns a driver for the nodes at urls.
func NewExternal(urls []string, timeout time.Duration) *External {
	clean := make([]string, len(urls))
	for i, u := range urls {
		clean[i] = strings.TrimRight(u, "/")
	}
	return &External{URLs: clean, HealthPath: "/api/v1/health", Timeout: timeout,
		Client: &http.Client{Timeout: 5 * time.Second}}
}

// Name returns "external".
func (e *External) Name() string { return "external" }

// Start checks that n equals the number of URLs and that each node answers
// its health endpoint with 2xx. It returns an error wrapping ErrStart
// naming every node that did not.
func (e *External) Start(ctx context.Context, n int) (Cluster, error) {
	if n != len(e.URLs) {
		return nil, fmt.Errorf("%w: an external cluster has %d nodes (its URLs), not %d", ErrStart, len(e.URLs), n)
	}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	errs := make([]error, len(e.URLs))
	var wg sync.WaitGroup
	for i, u := range e.URLs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.waitHealthy(ctx, u)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStart, err)
	}
	c := &external{drv: e}
	for i, u := range e.URLs {
		c.nodes = append(c.nodes, Node{ID: fmt.Sprintf("node-%d", i+1), API: u})
	}
	if err := waitFormed(ctx, e.Ready, e.Client, c, n); err != nil {
		return c, err
	}
	return c, nil
}

var _ Prober = (*external)(nil)

// Probe asks every node's health endpoint once (5 s at most) and names
// each that does not answer. Any HTTP answer but a gateway's (502, 504:
// what stands in front of the node could not reach it) shows the node's
// process alive: a 503 from a member that lost its leader, or a 429 from
// one that rate-limits, is a state of a live node, not a death.
func (c *external) Probe(ctx context.Context) []error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := n.API + c.drv.HealthPath
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err == nil {
				var resp *http.Response
				if resp, err = c.drv.Client.Do(req); err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout {
						err = fmt.Errorf("answered %s", resp.Status)
					}
				}
			}
			if err != nil {
				errs[i] = fmt.Errorf("%s (%s) stopped answering GET %s: %v", n.ID, n.API, c.drv.HealthPath, err)
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

func (e *External) waitHealthy(ctx context.Context, base string) error {
	url := base + e.HealthPath
	return pollUntil(ctx, 200*time.Millisecond, nil, func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%s: %v", url, err)
		}
		resp, err := e.Client.Do(req)
		if err != nil {
			return fmt.Errorf("GET %s: %v", url, errors.Unwrap(err))
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("GET %s answered %s", url, resp.Status)
		}
		return nil
	})
}

type external struct {
	drv   *External
	nodes []Node
}

func (c *external) Nodes() []Node               { return c.nodes }
func (c *external) Stop(context.Context) error  { return nil }
func (c *external) Settings() map[string]string { return map[string]string{"driver": "external"} }
