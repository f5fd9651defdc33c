package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/target"
)

func TestMain(m *testing.M) {
	if os.Getenv("ODBENCH_TEST_HELPER") == "start-and-wait" {
		helperStartAndWait()
		return
	}
	if os.Getenv("ODBENCH_TEST_HELPER") == "bare-raft-node" {
		helperBareRaftNode()
		return
	}
	os.Exit(clustertest.MainWithLeakCheck(m))
}

// startCluster starts n nodes (fsync off: tests check behaviour, not
// speed) in a temp root of the test and stops them when the test ends,
// also on failure.
func startCluster(t testing.TB, n int, nodeArgs ...string) *startedCluster {
	t.Helper()
	return startClusterArgs(t, n, append([]string{"--fsync=true"}, nodeArgs...))
}

func startClusterArgs(t testing.TB, n int, nodeArgs []string) *startedCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := nodeStarter(t, t.TempDir(), nodeArgs).Start(ctx, n)
	if err != nil {
		t.Fatalf("starting %d nodes: %v", n, err)
	}
	lc := c.(*startedCluster)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := lc.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return lc
}

// nodeStarter starts clusters of the reference node through its target
// profile, as odbench run does, with args on every member's command line.
func nodeStarter(t testing.TB, root string, args []string) *Starter {
	t.Helper()
	p, err := target.Load("odbench-node")
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewStarter(StartOptions{Profile: p, Self: clustertest.Binary, TempRoot: root, ExtraArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// status is the part of the reference node's cluster status the tests read.
type status struct {
	LeaderID   string `json:"leader_id"`
	Registered int    `json:"registered"`
	Peers      []struct {
		ID string `json:"id"`
	} `json:"peers"`
}

var httpc = &http.Client{Timeout: 10 * time.Second}

func call(t testing.TB, method, url string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, []byte(err.Error()), nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func clusterStatus(t testing.TB, api string) status {
	t.Helper()
	var st status
	code, b, _ := call(t, http.MethodGet, api+"/api/v1/cluster/status", nil)
	if code != http.StatusOK {
		t.Fatalf("status of %s: HTTP %d %s", api, code, b)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func apiOf(c *startedCluster, id string) string {
	p, _ := c.proc(id)
	return p.apiURL()
}

func leaderOf(t testing.TB, c *startedCluster) string {
	t.Helper()
	return clusterStatus(t, c.procs[0].apiURL()).LeaderID
}

// eventually retries f until it returns nil or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs: it does not exist, or it
// is a zombie waiting for a parent (init) to reap it.
func processGone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z'
	}
	return false
}

func TestFormWriteReadStop(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(fmt.Sprintf("nodes=%d", n), func(t *testing.T) {
			c := startCluster(t, n)
			var pids []int
			for _, nd := range c.Nodes() {
				if nd.PID == 0 || nd.API == "" {
					t.Fatalf("node %+v has no PID or API", nd)
				}
				pids = append(pids, nd.PID)
			}
			leader := leaderOf(t, c)
			var follower string
			for _, id := range c.ids() {
				if id != leader {
					follower = id
					break
				}
			}
			if code, b, _ := call(t, http.MethodPut, apiOf(c, leader)+"/api/v1/kv/greeting", []byte("hello")); code != 200 {
				t.Fatalf("write on leader: HTTP %d %s", code, b)
			}
			// A linearizable read on a follower (forwarded) sees it at once.
			code, b, _ := call(t, http.MethodGet, apiOf(c, follower)+"/api/v1/kv/greeting", nil)
			if code != 200 || string(b) != "hello" {
				t.Fatalf("read on follower: HTTP %d %q, want hello", code, b)
			}
			// A stale read there sees it once replicated.
			eventually(t, 5*time.Second, "stale read on follower", func() error {
				code, b, _ := call(t, http.MethodGet, apiOf(c, follower)+"/api/v1/kv/greeting?consistency=stale", nil)
				if code != 200 || string(b) != "hello" {
					return fmt.Errorf("HTTP %d %q", code, b)
				}
				return nil
			})
			// A write through a follower is forwarded to the leader.
			if code, b, _ := call(t, http.MethodPut, apiOf(c, follower)+"/api/v1/kv/via-follower", []byte("x")); code != 200 {
				t.Fatalf("write through follower: HTTP %d %s", code, b)
			}
			dir := c.dir
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := c.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Stop(ctx); err != nil {
				t.Fatalf("second Stop: %v", err)
			}
			for _, pid := range pids {
				if !processGone(pid) {
					t.Errorf("node process %d survived Stop", pid)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("temp dir %s survived Stop", dir)
			}
		})
	}
}

func TestKillLeaderLosesNoAcknowledgedWrite(t *testing.T) {
	c := startCluster(t, 3)
	leader := leaderOf(t, c)
	var via string
	for _, id := range c.ids() {
		if id != leader {
			via = apiOf(c, id)
			break
		}
	}
	acked := 0
	for i := 0; i < 50; i++ {
		if code, _, _ := call(t, http.MethodPut, fmt.Sprintf("%s/api/v1/kv/k%d", apiOf(c, leader), i), []byte(strconv.Itoa(i))); code == 200 {
			acked++
		}
	}
	if acked != 50 {
		t.Fatalf("%d of 50 writes acknowledged on a healthy cluster", acked)
	}
	killed := time.Now()
	if err := c.Kill(context.Background(), leader); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a new leader takes a write", func() error {
		code, b, _ := call(t, http.MethodPut, via+"/api/v1/kv/after", []byte("1"))
		if code != 200 {
			return fmt.Errorf("HTTP %d %s", code, b)
		}
		return nil
	})
	t.Logf("leader %s killed; new leader and first write after %v", leader, time.Since(killed).Round(time.Millisecond))
	if nl := clusterStatus(t, via).LeaderID; nl == leader || nl == "" {
		t.Fatalf("leader is %q after killing %s", nl, leader)
	}
	for i := 0; i < 50; i++ {
		code, b, _ := call(t, http.MethodGet, fmt.Sprintf("%s/api/v1/kv/k%d", via, i), nil)
		if code != 200 || string(b) != strconv.Itoa(i) {
			t.Errorf("acknowledged write k%d: HTTP %d %q after failover", i, code, b)
		}
	}
	// The killed node comes back with its data and ports, and catches up.
	if err := c.Restart(context.Background(), leader); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "restarted node catches up", func() error {
		code, b, _ := call(t, http.MethodGet, apiOf(c, leader)+"/api/v1/kv/after?consistency=stale", nil)
		if code != 200 || string(b) != "1" {
			return fmt.Errorf("HTTP %d %q", code, b)
		}
		return nil
	})
	// Its own state, rebuilt from its log on disk, holds every write.
	for i := 0; i < 50; i++ {
		code, b, _ := call(t, http.MethodGet, fmt.Sprintf("%s/api/v1/kv/k%d?consistency=stale", apiOf(c, leader), i), nil)
		if code != 200 || string(b) != strconv.Itoa(i) {
			t.Errorf("acknowledged write k%d on the restarted node: HTTP %d %q", i, code, b)
		}
	}
}

func TestPartitionMinorityCannotCommit(t *testing.T) {
	c := startCluster(t, 5)
	leader := leaderOf(t, c)
	var minority, majority []string
	for _, id := range c.ids() {
		if id != leader && len(minority) < 2 {
			minority = append(minority, id)
		} else {
			majority = append(majority, id)
		}
	}
	if err := c.Partition(context.Background(), minority); err != nil {
		t.Fatal(err)
	}
	// The majority (with the leader) commits.
	if code, b, _ := call(t, http.MethodPut, apiOf(c, majority[1])+"/api/v1/kv/during", []byte("majority")); code != 200 {
		t.Fatalf("majority write during partition: HTTP %d %s", code, b)
	}
	// The minority cannot.
	code, b, _ := call(t, http.MethodPut, apiOf(c, minority[0])+"/api/v1/kv/minority", []byte("x"))
	if code == 200 {
		t.Fatalf("minority write during partition succeeded: %s", b)
	}
	// Nor does it see the majority's write.
	if code, _, _ := call(t, http.MethodGet, apiOf(c, minority[0])+"/api/v1/kv/during?consistency=stale", nil); code == 200 {
		t.Fatal("the minority saw a write made during the partition")
	}
	if err := c.Heal(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, id := range minority {
		eventually(t, 15*time.Second, id+" converges after heal", func() error {
			code, b, _ := call(t, http.MethodGet, apiOf(c, id)+"/api/v1/kv/during?consistency=stale", nil)
			if code != 200 || string(b) != "majority" {
				return fmt.Errorf("HTTP %d %q", code, b)
			}
			return nil
		})
	}
	if code, b, _ := call(t, http.MethodPut, apiOf(c, minority[0])+"/api/v1/kv/after-heal", []byte("y")); code != 200 {
		t.Fatalf("write through a healed node: HTTP %d %s", code, b)
	}
}

func TestModelPullVerifiesDigest(t *testing.T) {
	c := startCluster(t, 3)
	n1, n2, n3 := apiOf(c, "n1"), apiOf(c, "n2"), apiOf(c, "n3")
	code, b, _ := call(t, http.MethodPost, n1+"/api/v1/models", []byte(`{"name":"tiny","size_bytes":3145728}`))
	if code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, b)
	}
	var created struct {
		Model struct{ Digest string } `json:"model"`
	}
	_ = json.Unmarshal(b, &created)
	code, b2, _ := call(t, http.MethodPost, n2+"/api/v1/models/tiny/download?parallel=4", nil)
	if code != 200 {
		_, st, _ := call(t, http.MethodGet, n2+"/api/v1/cluster/status", nil)
		logb, _ := os.ReadFile(filepath.Join(c.logDir, "n2.log"))
		t.Fatalf("download on n2: HTTP %d %s (created: %s; n2 status %s)\nn2 log:\n%s", code, b2, b, st, logb)
	}
	// n1 now serves corrupted bytes; n3's pull must be rejected.
	if code, b, _ := call(t, http.MethodPost, n1+"/api/v1/admin/faults", []byte(`{"corrupt_blobs":true}`)); code != 200 {
		t.Fatalf("faults: HTTP %d %s", code, b)
	}
	if code, b, _ := call(t, http.MethodPost, n2+"/api/v1/admin/faults", []byte(`{"corrupt_blobs":true}`)); code != 200 {
		t.Fatalf("faults: HTTP %d %s", code, b)
	}
	// n3 reads its own registry: wait until n2's replica has reached it.
	eventually(t, 10*time.Second, "n3 sees n2 hold the model", func() error {
		code, b, _ := call(t, http.MethodGet, n3+"/api/v1/p2p/locate/"+created.Model.Digest, nil)
		if code != 200 || !strings.Contains(string(b), `"n2"`) {
			return fmt.Errorf("locate: HTTP %d %s", code, b)
		}
		return nil
	})
	code, b, _ = call(t, http.MethodPost, n3+"/api/v1/models/tiny/download", nil)
	if code != http.StatusBadGateway || !strings.Contains(string(b), "digest mismatch") {
		t.Fatalf("download of corrupted bytes: HTTP %d %s, want 502 digest mismatch", code, b)
	}
	code, b, _ = call(t, http.MethodGet, n3+"/api/v1/p2p/locate/"+created.Model.Digest, nil)
	if code != 200 || strings.Contains(string(b), `"n3"`) || !strings.Contains(string(b), `"n2"`) {
		t.Fatalf("locate: HTTP %d %s, want n1 and n2 and never n3", code, b)
	}
	entries, _ := os.ReadDir(filepath.Join(c.dir, "n3", "blobs"))
	if len(entries) != 0 {
		t.Errorf("n3 kept %d blob files after a rejected pull", len(entries))
	}
}

func TestRoundRobinSpreadsAndDrainStops(t *testing.T) {
	c := startCluster(t, 3, "--token-delay", "1ms", "--num-predict", "2")
	n1 := apiOf(c, "n1")
	if code, b, _ := call(t, http.MethodPost, n1+"/api/v1/models", []byte(`{"name":"m","size_bytes":1024}`)); code != http.StatusCreated {
		t.Fatalf("create: HTTP %d %s", code, b)
	}
	for _, id := range []string{"n2", "n3"} {
		if code, b, _ := call(t, http.MethodPost, apiOf(c, id)+"/api/v1/models/m/download", nil); code != 200 {
			t.Fatalf("download on %s: HTTP %d %s", id, code, b)
		}
	}
	served := func(requests int) map[string]int {
		counts := map[string]int{}
		for i := 0; i < requests; i++ {
			code, b, h := call(t, http.MethodPost, n1+"/api/generate", []byte(`{"model":"m","prompt":"hi","stream":false}`))
			if code != 200 {
				t.Fatalf("generate: HTTP %d %s", code, b)
			}
			counts[h.Get("X-Served-By")]++
		}
		return counts
	}
	counts := served(60)
	for _, id := range c.ids() {
		if counts[id] < 18 || counts[id] > 22 {
			t.Errorf("round robin: %s served %d of 60, want 20 ± 10%% (%v)", id, counts[id], counts)
		}
	}
	if code, b, _ := call(t, http.MethodPost, n1+"/api/v1/nodes/n2/drain", nil); code != 200 {
		t.Fatalf("drain: HTTP %d %s", code, b)
	}
	counts = served(30)
	if counts["n2"] != 0 || counts["n1"]+counts["n3"] != 30 {
		t.Errorf("after draining n2: %v, want n2 to serve nothing", counts)
	}
}
