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
	c := &external{}
	for i, u := range e.URLs {
		c.nodes = append(c.nodes, Node{ID: fmt.Sprintf("node-%d", i+1), API: u})
	}
	return c, nil
}

func (e *External) waitHealthy(ctx context.Context, base string) error {
	url := base + e.HealthPath
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("%s: %v", url, err)
		}
		resp, err := e.Client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			last = fmt.Errorf("GET %s answered %s", url, resp.Status)
		} else {
			last = fmt.Errorf("GET %s: %v", url, errors.Unwrap(err))
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type external struct{ nodes []Node }

func (c *external) Nodes() []Node               { return c.nodes }
func (c *external) Stop(context.Context) error  { return nil }
func (c *external) Settings() map[string]string { return map[string]string{"driver": "external"} }
