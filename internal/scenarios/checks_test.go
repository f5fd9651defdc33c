package scenarios

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// Every check a scenario records is shown to fail here, against a node
// broken on purpose (a debug flag) or a cluster whose fault does not do
// what it says, so none of them is decoration. Their passing side is in
// TestFaults, TestDeadlockDetection and TestEveryCategoryOnLocalCluster.

// checkNamed returns the check called name, failing the test without it.
func checkNamed(t *testing.T, res metrics.Scenario, name string) metrics.Check {
	t.Helper()
	for _, c := range res.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q among %+v", name, res.Checks)
	return metrics.Check{}
}

// wantFailed asserts that check name failed with severity, and that the
// verdict follows: a fail-severity check fails the scenario naming it, a
// warn-severity one leaves the status alone.
func wantFailed(t *testing.T, res metrics.Scenario, name, severity string) {
	t.Helper()
	c := checkNamed(t, res, name)
	if c.Passed || c.Severity != severity {
		t.Fatalf("check %s = %+v, want failed with severity %s", name, c, severity)
	}
	res.Status = metrics.StatusOK
	metrics.Judge(&res, 0)
	switch severity {
	case metrics.SeverityFail:
		if res.Status != metrics.StatusFailed || !strings.Contains(res.Error, "check "+name+" failed") {
			t.Errorf("verdict %s %q, want failed naming check %s", res.Status, res.Error, name)
		}
	default:
		if res.Status != metrics.StatusOK {
			t.Errorf("verdict %s %q: a failed warn check must not fail the scenario", res.Status, res.Error)
		}
	}
}

func TestRoundRobinFairnessFails(t *testing.T) {
	c := localtest.Start(t, 3, "--token-delay", "1ms", "--debug-stuck-round-robin")
	cfg := shortConfig()
	res, _, err := run(t, cfg, specNamed(t, cfg, "loadbalance/policy=round_robin"), c)
	if err != nil {
		t.Fatal(err)
	}
	wantFailed(t, res, "round_robin_fairness", metrics.SeverityFail)
}

// TestHeapGrowth: a node that retains 500 kB/s (30 MB/min) is caught; the
// same scenario on a healthy node is not.
func TestHeapGrowth(t *testing.T) {
	cfg := shortConfig()
	cfg.Execution.Duration = 7 * time.Second
	cfg.Execution.WarmupDuration = time.Second
	spec := specNamed(t, cfg, "memory/soak/clients=4")
	t.Run("leaking node", func(t *testing.T) {
		t.Parallel()
		c := localtest.Start(t, 1, "--token-delay", "1ms", "--debug-leak-bytes-per-s", "500000")
		res, _, err := run(t, cfg, spec, c)
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, res, "no_heap_growth", metrics.SeverityFail)
	})
	t.Run("healthy node", func(t *testing.T) {
		t.Parallel()
		c := localtest.Start(t, 1, "--token-delay", "1ms")
		res, _, err := run(t, cfg, spec, c)
		if err != nil {
			t.Fatal(err)
		}
		if ch := checkNamed(t, res, "no_heap_growth"); !ch.Passed {
			t.Errorf("healthy node: %+v", ch)
		}
	})
	// A soak too short for the node's own collections, on a node that
	// cannot be made to collect: the check could not look, so it fails.
	t.Run("leak check that cannot look", func(t *testing.T) {
		t.Parallel()
		short := *cfg
		short.Execution.Duration, short.Memory.MinDuration = 2*time.Second, 2*time.Second
		c := localtest.Start(t, 1, "--token-delay", "1ms", "--pprof=false")
		res, _, err := run(t, &short, specNamed(t, &short, "memory/soak/clients=4"), c)
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, res, "no_heap_growth", metrics.SeverityFail)
		if ch := checkNamed(t, res, "no_heap_growth"); !strings.Contains(ch.Detail, "could not be evaluated") {
			t.Errorf("detail %q, want it to say the check could not be evaluated", ch.Detail)
		}
	})
}

// TestLeaderElectionWarns: a leader cut off for a moment during a
// consensus scenario makes the cluster elect another; the check says so,
// as a warning.
func TestLeaderElectionWarns(t *testing.T) {
	// Tight timings, so the election falls inside the 2 s measurement.
	c := localtest.Start(t, 3, "--heartbeat-timeout", "300ms", "--election-timeout", "300ms", "--leader-lease", "150ms")
	cfg := shortConfig()
	cfg.Execution.Duration = 2 * time.Second
	part := c.(cluster.Partitioner)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(cfg.Execution.WarmupDuration + 300*time.Millisecond)
		ctx := context.Background()
		st, err := status(ctx, c, c.Nodes()[0])
		if err != nil {
			t.Error(err)
			return
		}
		if err := part.Partition(ctx, []string{st.Leader}); err != nil {
			t.Error(err)
		}
		// Heal once the majority has elected another leader.
		var other cluster.Node
		for _, n := range c.Nodes() {
			if n.ID != st.Leader {
				other = n
			}
		}
		if _, ok := pollUntil(ctx, time.Now().Add(20*time.Second), func() bool {
			s, err := status(ctx, c, other)
			return err == nil && s.Leader != "" && s.Leader != st.Leader
		}); !ok {
			t.Error("the majority elected no other leader within 20s of the partition")
		}
		if err := part.Heal(ctx); err != nil {
			t.Error(err)
		}
	}()
	res, _, err := run(t, cfg, specNamed(t, cfg, "consensus/apply/clients=4/value=128B"), c)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	wantFailed(t, res, "no_leader_election", metrics.SeverityWarn)
}

// partitionIgnored claims to partition and does nothing.
type partitionIgnored struct{ observedCluster }

func (partitionIgnored) Partition(context.Context, []string) error { return nil }
func (partitionIgnored) Heal(context.Context) error                { return nil }

// isolateAll cuts every node off from every other, majority included.
type isolateAll struct{ observedCluster }

func (c isolateAll) Partition(ctx context.Context, _ []string) error {
	api := NewAPI(newFast(), defaultTarget())
	for _, n := range c.Nodes() {
		var others []string
		for _, o := range c.Nodes() {
			if o.ID != n.ID {
				others = append(others, o.ID)
			}
		}
		body, _ := json.Marshal(map[string]any{"drop": others})
		if err := api.Call(ctx, n.API, "admin_faults_set", target.Vars{Body: string(body)}, nil); err != nil {
			return err
		}
	}
	return nil
}

func (c isolateAll) Heal(ctx context.Context) error {
	return c.observedCluster.(cluster.Partitioner).Heal(ctx)
}

// observedCluster is a cluster whose members' views can be read.
type observedCluster interface {
	cluster.Cluster
	cluster.Observer
}

func TestPartitionChecksFail(t *testing.T) {
	c := localtest.Start(t, 3)
	cfg := shortConfig()
	cfg.Execution.Duration = 2 * time.Second
	spec := specNamed(t, cfg, "faults/partition_minority")
	t.Run("a partition that does not cut", func(t *testing.T) {
		res, _, err := run(t, cfg, spec, partitionIgnored{c.(observedCluster)})
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, res, "minority_cannot_commit", metrics.SeverityFail)
	})
	t.Run("a partition that cuts the majority too", func(t *testing.T) {
		res, _, err := run(t, cfg, spec, isolateAll{c.(observedCluster)})
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, res, "majority_commits", metrics.SeverityFail)
	})
}

// lossyCluster is a fake three-node KV cluster that acknowledges every
// write and forgets those acknowledged before its leader is killed, as a
// leader that acknowledges before replicating would.
type lossyCluster struct {
	cluster.Observer
	mu      sync.Mutex
	servers []*httptest.Server
	leader  int
	dead    map[int]bool
	kv      map[string]bool
	pending map[string]bool // acknowledged, not replicated
}

func newLossyCluster(t *testing.T) *lossyCluster {
	l := &lossyCluster{dead: map[int]bool{}, kv: map[string]bool{}, pending: map[string]bool{}}
	for i := 0; i < 3; i++ {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.serve(i, w, r) }))
		t.Cleanup(srv.Close)
		l.servers = append(l.servers, srv)
	}
	l.Observer = cluster.NewObserver(defaultTarget(), l.Nodes)
	return l
}

func (l *lossyCluster) serve(i int, w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead[i] {
		http.Error(w, `{"error":"down"}`, http.StatusServiceUnavailable)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/api/v1/kv/")
	switch {
	case r.URL.Path == "/api/v1/cluster/status":
		fmt.Fprintf(w, `{"id":"n%d","leader_id":"n%d","leader_api":%q,"term":1}`, i+1, l.leader+1, l.servers[l.leader].URL)
	case r.Method == http.MethodPut:
		l.pending[key] = true
		w.Write([]byte(`{"version":1}`))
	case r.Method == http.MethodGet:
		if !l.kv[key] && !l.pending[key] {
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("X-Version", "1")
	case r.Method == http.MethodDelete:
		delete(l.kv, key)
		delete(l.pending, key)
	}
}

func (l *lossyCluster) Nodes() []cluster.Node {
	var out []cluster.Node
	for i, s := range l.servers {
		out = append(out, cluster.Node{ID: fmt.Sprintf("n%d", i+1), API: s.URL})
	}
	return out
}

func (l *lossyCluster) Stop(context.Context) error { return nil }

// Kill drops what the leader had not replicated and elects the next node.
func (l *lossyCluster) Kill(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var i int
	fmt.Sscanf(id, "n%d", &i)
	l.dead[i-1] = true
	l.pending = map[string]bool{}
	l.leader = i % 3
	return nil
}

func (l *lossyCluster) Restart(_ context.Context, id string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var i int
	fmt.Sscanf(id, "n%d", &i)
	delete(l.dead, i-1)
	return nil
}

func TestAcknowledgedWriteLostFails(t *testing.T) {
	cfg := shortConfig()
	cfg.Execution.Duration = 2 * time.Second
	res, _, err := run(t, cfg, specNamed(t, cfg, "faults/leader_failure"), newLossyCluster(t))
	if err != nil {
		t.Fatal(err)
	}
	wantFailed(t, res, "no_acknowledged_write_lost", metrics.SeverityFail)
}
