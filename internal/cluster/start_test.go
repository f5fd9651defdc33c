package cluster

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/target"
)

// customNode is a profile a user might write for a system of their own:
// here odbench's node again, but through what such a profile offers
// that the built-in one does not use (a value captured from member 1's
// output, a config file per member, a readiness request) and with no
// way to partition it.
const customNode = `
name: custom-node
start:
  command: ["{{.Self}}", "node", "--id", "{{.ID}}", "--data-dir", "{{.DataDir}}/data", "--fsync=false",
            "--api-port", "{{.Ports.api}}", "--raft-port", "{{.Ports.raft}}", "--gossip-port", "{{.Ports.gossip}}",
            "{{if eq .Index 1}}--bootstrap{{else}}--join={{.First.API}}{{end}}"]
  ports: [api, raft, gossip]
  order: first
  node_ready: {request: {method: GET, path: /api/v1/health}}
  capture: {first_pid: '"pid":(?P<first_pid>\d+)'}
  config_file: seen.txt
  config_template: "member {{.ID}} of index {{.Index}} in a cluster of {{.Size}}; member 1 had pid {{if eq .Index 1}}(me){{else}}{{.Captured.first_pid}}{{end}}\n"
ready:
  - {method: GET, path: /api/v1/cluster/status, json: peers, count_at_least: "{{.Size}}"}
status: {method: GET, path: /api/v1/cluster/status, id: id, leader: leader_id}
faults: {network: none}
`

// startCustom starts n members of the customNode profile; whatever
// started is stopped when the test ends.
func startCustom(t *testing.T, ctx context.Context, n int) (Cluster, error) {
	t.Helper()
	p, err := target.Parse("custom-node.yaml", []byte(customNode))
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewStarter(StartOptions{Profile: p, Self: clustertest.Binary, TempRoot: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Start(ctx, n)
	if c != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := c.Stop(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	return c, err
}

func TestStarterRunsAnyProfile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := startCustom(t, ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	sc := c.(*startedCluster)
	if why := Lacks(c, CanPartition); !strings.Contains(why, "custom-node profile has no way to partition") {
		t.Errorf("a profile with faults.network none: partition lacks %q", why)
	}
	nodes := c.Nodes()
	if len(nodes) != 3 || nodes[0].PID == 0 {
		t.Fatalf("nodes %+v", nodes)
	}
	// What member 1 printed reached member 2's config file.
	b, err := os.ReadFile(filepath.Join(sc.dir, "n2", "seen.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "member n2 of index 2 in a cluster of 3; member 1 had pid " + strconv.Itoa(nodes[0].PID); !strings.HasPrefix(string(b), want) {
		t.Errorf("n2's config file = %q, want %q", b, want)
	}
	leader, err := sc.Leader(ctx)
	if err != nil || leader.ID == "" {
		t.Fatalf("leader %+v: %v", leader, err)
	}
	// One cluster: a write through n3 is read on n2.
	if code, body, _ := call(t, http.MethodPut, nodes[2].API+"/api/v1/kv/x", []byte("1")); code != 200 {
		t.Fatalf("write: %d %s", code, body)
	}
	if code, body, _ := call(t, http.MethodGet, nodes[1].API+"/api/v1/kv/x", nil); code != 200 || string(body) != "1" {
		t.Fatalf("read: %d %s", code, body)
	}
	// Kill and restart n3 with its directory and ports.
	if err := sc.Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "restarted n3 has the data", func() error {
		code, body, _ := call(t, http.MethodGet, nodes[2].API+"/api/v1/kv/x?consistency=stale", nil)
		if code != 200 || string(body) != "1" {
			return errString(string(body))
		}
		return nil
	})
	if err := sc.Pause(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Resume(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := sc.Healthy(ctx); err != nil {
		t.Logf("right after a resume: %v", err) // may lag; the runner waits for it
	}
}

func TestStarterNeedsAStartSection(t *testing.T) {
	if _, err := NewStarter(StartOptions{Profile: &target.Profile{Name: "x"}}); err == nil || !strings.Contains(err.Error(), "--targets") {
		t.Errorf("a profile without start: %v, want the --targets advice", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
