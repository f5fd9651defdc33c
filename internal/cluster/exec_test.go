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
)

// execOdbench drives `odbench node` through the exec driver's templates,
// as a user would drive any other node binary.
func execOdbench(t *testing.T) ExecOptions {
	return ExecOptions{
		Command: []string{clustertest.Binary, "node", "--id", "{{.ID}}", "--data-dir", "{{.DataDir}}/data",
			"--api-port", "{{.APIPort}}", "--raft-port", "{{.RaftPort}}", "--gossip-port", "{{.P2PPort}}", "--fsync=false",
			"{{if eq .Index 1}}--bootstrap{{else}}--join=http://{{.JoinAddr}}{{end}}"},
		HealthURL:       "http://127.0.0.1:{{.APIPort}}/api/v1/health",
		ClusterReadyURL: "http://127.0.0.1:{{.APIPort}}/api/v1/cluster/leader",
		Capture:         map[string]string{"first_pid": `"pid":(?P<first_pid>\d+)`},
		ConfigFile:      "seen.txt",
		ConfigTemplate:  "node {{.ID}} of index {{.Index}}; node 1 had pid {{if .First}}{{.Captured.first_pid}}{{else}}(me){{end}}\n",
		TempRoot:        t.TempDir(),
	}
}

func TestExecDriver(t *testing.T) {
	d, err := NewExec(execOdbench(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := d.Start(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	ec := c.(*execCluster)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	if _, ok := c.(Partitioner); ok {
		t.Error("the exec driver claims to partition; it cannot reach into an arbitrary binary")
	}
	nodes := c.Nodes()
	if len(nodes) != 3 || nodes[0].PID == 0 {
		t.Fatalf("nodes %+v", nodes)
	}
	// The value captured from node 1's output reached node 2's config file.
	b, err := os.ReadFile(filepath.Join(ec.dir, "n2", "seen.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "node n2 of index 2; node 1 had pid " + strconv.Itoa(nodes[0].PID); !strings.HasPrefix(string(b), want) {
		t.Errorf("n2's config file = %q, want %q", b, want)
	}
	// The nodes formed one cluster: a write through n3 is read on n2.
	if code, body, _ := call(t, http.MethodPut, nodes[2].API+"/api/v1/kv/x", []byte("1")); code != 200 {
		t.Fatalf("write: %d %s", code, body)
	}
	if code, body, _ := call(t, http.MethodGet, nodes[1].API+"/api/v1/kv/x", nil); code != 200 || string(body) != "1" {
		t.Fatalf("read: %d %s", code, body)
	}
	// Kill and restart n3 with its directory and ports.
	if err := ec.Kill(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	if err := ec.Restart(ctx, "n3"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "restarted n3 has the data", func() error {
		code, body, _ := call(t, http.MethodGet, nodes[2].API+"/api/v1/kv/x?consistency=stale", nil)
		if code != 200 || string(body) != "1" {
			return errString(string(body))
		}
		return nil
	})
	if err := ec.Pause(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
	if err := ec.Resume(ctx, "n2"); err != nil {
		t.Fatal(err)
	}
}

func TestExecOptionsRefused(t *testing.T) {
	_, err := NewExec(ExecOptions{Command: []string{"x", "{{.Nope"}, Capture: map[string]string{"id": `ID: (\S+)`},
		ConfigFile: "../escape.yaml", ConfigTemplate: "a"})
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"command[1]", "set health_url or ready_pattern", "no group named id", "inside the node's directory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
