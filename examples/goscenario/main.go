// Command goscenario is an odbench with one more scenario compiled in,
// written in Go with the public package odbench (Caddy's pattern: a main
// of one's own). Everything odbench does works unchanged: run, compare,
// report, and node, from which the local driver starts the cluster.
//
//	go run ./examples/goscenario run --categories custom --cluster-sizes 3 --duration 5s
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/odbench"
)

func main() {
	odbench.Register(odbench.Scenario{
		// Recorded as custom/leader_status/clients=4.
		Name:   "leader_status/clients=4",
		Params: map[string]string{"clients": "4"},
		Run:    leaderStatus,
	})
	os.Exit(odbench.Main())
}

// leaderStatus asks the nodes in turn who leads, from four clients in a
// closed loop, for the configured warm-up and duration.
func leaderStatus(ctx context.Context, env *odbench.Env, c odbench.Cluster) error {
	nodes := c.Nodes()
	client := &http.Client{Timeout: 5 * time.Second}
	var next atomic.Uint64
	_, err := env.Closed(ctx, 4, odbench.Operation{Name: "leader", Do: func(ctx context.Context) error {
		n := nodes[int(next.Add(1))%len(nodes)]
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.API+"/api/v1/cluster/leader", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s", n.ID, resp.Status)
		}
		return nil
	}})
	return err
}
