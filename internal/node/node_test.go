package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// startNode runs a one-node cluster in this process and returns its API
// URL; the node shuts down when the test ends.
func startNode(t testing.TB) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ID, cfg.Bootstrap = "t1", true
	return startNodeWith(t, cfg)
}

// startNodeWith runs a node of cfg (data dir and a short token delay
// filled in) in this process.
func startNodeWith(t testing.TB, cfg Config) string {
	api, _ := runNode(t, cfg)
	return api
}

// runNode runs a node of cfg in this process and returns its API URL and
// a func that stops it (safe to call twice; the test's cleanup calls it).
func runNode(t testing.TB, cfg Config) (api string, stop func()) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.TokenDelay = time.Millisecond
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, pw, slog.New(slog.DiscardHandler)); pw.Close() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("node %s: %v", cfg.ID, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("node %s did not shut down within 5s", cfg.ID)
			}
		})
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(pr).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	var r Ready
	if err := json.Unmarshal(line, &r); err != nil || r.Event != "ready" || !strings.HasPrefix(r.API, "http://127.0.0.1:") {
		t.Fatalf("ready line %q: %v", line, err)
	}
	// Ready means a leader is known: a write can be served at once.
	if code, _, body := get(t, r.API+"/api/v1/health"); code != http.StatusOK || !strings.Contains(body, `"leader_id"`) {
		t.Fatalf("health right after the ready line = %d %s, want 200 naming the leader", code, body)
	}
	return r.API, stop
}

func get(t testing.TB, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func waitFor(t testing.TB, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

func do(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestBadInput(t *testing.T) {
	api := startNode(t)
	if code, _, body := do(t, "POST", api+"/api/v1/models", `{"name":"m","size_bytes":2048}`); code != 201 {
		t.Fatalf("create model: %d %s", code, body)
	}
	big := `{"name":"x","pad":"` + strings.Repeat("a", maxBody) + `"}`
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"malformed json", "POST", "/api/v1/models", `{"name":`, 400, "malformed JSON"},
		{"model without size", "POST", "/api/v1/models", `{"name":"y"}`, 400, "size_bytes must be"},
		{"model name with slash", "POST", "/api/v1/models", `{"name":"../etc","size_bytes":1}`, 400, "beginning with a letter or digit"},
		{"model named ..", "POST", "/api/v1/models", `{"name":"..","size_bytes":1}`, 400, "beginning with a letter or digit"},
		{"model over the size ceiling", "POST", "/api/v1/models", `{"name":"huge","size_bytes":3000000000}`, 400, "--max-model-mb"},
		{"trailing garbage", "POST", "/api/v1/admin/faults", `{"drop":[]} and more`, 400, "trailing data"},
		{"null fault rules", "POST", "/api/v1/admin/faults", `null`, 400, "null"},
		{"misspelt fault rule", "POST", "/api/v1/admin/faults", `{"dropp":["t1"]}`, 400, "unknown field"},
		{"bandwidth below the floor", "POST", "/api/v1/admin/faults", `{"links":{"t1":{"bandwidth_kb_per_s":0.000001}}}`, 400, "bandwidth_kb_per_s: want 0 (no cap) or 1 to"},
		{"absurd delay", "POST", "/api/v1/admin/faults", `{"links":{"t1":{"delay":"190h"}}}`, 400, "want a duration from 0 to 30s"},
		{"loss above 100", "POST", "/api/v1/admin/faults", `{"links":{"t1":{"loss_percent":101}}}`, 400, "loss_percent: want 0 to 100"},
		{"leave of a stranger", "POST", "/api/v1/cluster/leave", `{"id":"ghost"}`, 404, "no member"},
		{"broadcast id too long", "POST", "/api/v1/p2p/broadcast", `{"id":"` + strings.Repeat("x", 129) + `"}`, 400, "at most 128 bytes"},
		{"duplicate model", "POST", "/api/v1/models", `{"name":"m","size_bytes":1}`, 409, "already exists"},
		{"body too large", "POST", "/api/v1/models", big, 413, "request body over"},
		{"unknown model", "GET", "/api/v1/models/nope", "", 404, "not found"},
		{"unknown model download", "POST", "/api/v1/models/nope/download", "", 404, "not found"},
		{"generate unknown model", "POST", "/api/generate", `{"model":"nope","prompt":"hi"}`, 404, "not found"},
		{"generate without model", "POST", "/api/generate", `{"prompt":"hi"}`, 400, "model is required"},
		{"generate bad num_predict", "POST", "/api/chat", `{"model":"m","options":{"num_predict":-3}}`, 400, "num_predict"},
		{"bad digest", "GET", "/api/v1/blobs/sha256:zz", "", 400, "64 hex digits"},
		{"path traversal digest", "GET", "/api/v1/blobs/..%2F..%2Fetc%2Fpasswd", "", 400, "64 hex digits"},
		{"faults unknown node", "POST", "/api/v1/admin/faults", `{"drop":["ghost"]}`, 400, "unknown node IDs"},
		{"faults bad delay", "POST", "/api/v1/admin/faults", `{"links":{"t1":{"delay":"forever"}}}`, 400, "want a duration"},
		{"cas without version", "POST", "/api/v1/kv/k/cas", "v", 400, "expect_version"},
		{"unknown node", "GET", "/api/v1/nodes/ghost", "", 404, "not found"},
		{"drain unknown node", "POST", "/api/v1/nodes/ghost/drain", "", 404, "not found"},
		{"join without fields", "POST", "/api/v1/cluster/join", `{}`, 400, "required"},
		{"broadcast too big", "POST", "/api/v1/p2p/broadcast", `{"payload_bytes":100000}`, 400, "payload_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, h, body := do(t, tt.method, api+tt.path, tt.body)
			if code != tt.code || !strings.Contains(body, tt.want) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, code, body, tt.code, tt.want)
			}
			if code >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("error answer has Content-Type %q, want JSON", h.Get("Content-Type"))
			}
		})
	}
	// The node is still healthy after all of that.
	if code, _, _ := do(t, "GET", api+"/api/v1/health", ""); code != 200 {
		t.Fatalf("health after bad input: %d", code)
	}
}

func TestKVCompareAndSet(t *testing.T) {
	api := startNode(t)
	code, _, body := do(t, "POST", api+"/api/v1/kv/k/cas?expect_version=0", "first")
	if code != 200 {
		t.Fatalf("create with cas: %d %s", code, body)
	}
	var v struct{ Version uint64 }
	_ = json.Unmarshal([]byte(body), &v)
	if code, _, body := do(t, "POST", api+"/api/v1/kv/k/cas?expect_version=0", "again"); code != 409 {
		t.Errorf("cas on an existing key with expect 0: %d %s, want 409", code, body)
	}
	if code, _, body := do(t, "POST", api+"/api/v1/kv/k/cas?expect_version="+strconv.FormatUint(v.Version, 10), "second"); code != 200 {
		t.Errorf("cas with the right version: %d %s", code, body)
	}
	if _, h, body := do(t, "GET", api+"/api/v1/kv/k", ""); body != "second" || h.Get("X-Version") == "" {
		t.Errorf("read = %q (version %q), want second", body, h.Get("X-Version"))
	}
	if code, _, _ := do(t, "DELETE", api+"/api/v1/kv/k", ""); code != 200 {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := do(t, "GET", api+"/api/v1/kv/k", ""); code != 404 {
		t.Errorf("read after delete: %d, want 404", code)
	}
}

// fastTimings makes a test cluster notice a lost leader within
// milliseconds instead of the defaults' seconds.
func fastTimings(cfg Config) Config {
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLease = 100*time.Millisecond, 100*time.Millisecond, 50*time.Millisecond
	return cfg
}

func TestWithoutLeaderNoWritesAndNotHealthy(t *testing.T) {
	a := fastTimings(DefaultConfig())
	a.ID, a.Bootstrap = "a", true
	apiA, stopA := runNode(t, a)
	b := fastTimings(DefaultConfig())
	b.ID, b.Join = "b", apiA
	apiB := startNodeWith(t, b)
	stopA() // b is left with one of two voters: no leader can be elected
	waitFor(t, func() bool {
		code, _, _ := get(t, apiB+"/api/v1/health")
		return code == http.StatusServiceUnavailable
	})
	code, h, body := get(t, apiB+"/api/v1/health")
	if h.Get("Retry-After") == "" || !strings.Contains(body, "no leader") {
		t.Errorf("health without a leader = %d (Retry-After %q) %s, want 503 saying so", code, h.Get("Retry-After"), body)
	}
	code, h, body = do(t, "PUT", apiB+"/api/v1/kv/k", "v")
	if code != 503 || h.Get("Retry-After") == "" || !strings.Contains(body, "no raft leader") {
		t.Errorf("write without leader = %d (Retry-After %q) %s, want 503 with Retry-After", code, h.Get("Retry-After"), body)
	}
}

func TestNeitherBootstrapNorJoinIsRefused(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ID, cfg.DataDir = "lone", t.TempDir()
	err := Run(context.Background(), cfg, io.Discard, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "neither --bootstrap") {
		t.Fatalf("a node with no state, no --bootstrap and no --join: %v, want an error naming both flags", err)
	}
}

func TestGenerateStreamsOllamaChunks(t *testing.T) {
	api := startNode(t)
	if code, _, body := do(t, "POST", api+"/api/v1/models", `{"name":"m","size_bytes":2048}`); code != 201 {
		t.Fatalf("create model: %d %s", code, body)
	}
	resp, err := http.Post(api+"/api/generate", "application/json",
		bytes.NewReader([]byte(`{"model":"m","prompt":"one two three","options":{"num_predict":5}}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("X-Served-By") != "t1" || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("headers %v", resp.Header)
	}
	var chunks []inferChunk
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var c inferChunk
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("chunk %q: %v", sc.Text(), err)
		}
		chunks = append(chunks, c)
	}
	if len(chunks) != 6 {
		t.Fatalf("%d chunks, want 5 tokens and a final one", len(chunks))
	}
	last := chunks[5]
	if !last.Done || last.EvalCount != 5 || last.PromptEvalCount != 3 || last.TotalDuration <= 0 || last.ServedBy != "t1" {
		t.Errorf("final chunk %+v", last)
	}
	for _, c := range chunks[:5] {
		if c.Done || c.Response == nil || *c.Response == "" {
			t.Errorf("token chunk %+v", c)
		}
	}
	// Non-streaming: one JSON with the whole response.
	code, _, body := do(t, "POST", api+"/api/chat", `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":3}}`)
	var one inferChunk
	if code != 200 || json.Unmarshal([]byte(body), &one) != nil || !one.Done || one.Message == nil || one.EvalCount != 3 {
		t.Errorf("stream:false chat = %d %s", code, body)
	}
}

// startPair runs a leader t1 and a follower t2 (both configured by tweak,
// when given) and returns their API URLs once the follower knows t1 leads
// and where its API is.
func startPair(t *testing.T, tweak func(leader, follower *Config)) (leader, follower string) {
	t.Helper()
	lc, fc := DefaultConfig(), DefaultConfig()
	lc.ID, lc.Bootstrap = "t1", true
	fc.ID = "t2"
	if tweak != nil {
		tweak(&lc, &fc)
	}
	leader = startNodeWith(t, lc)
	fc.Join = leader
	follower = startNodeWith(t, fc)
	waitFor(t, func() bool {
		code, _, body := do(t, http.MethodGet, follower+"/api/v1/cluster/status", "")
		return code == 200 && strings.Contains(body, `"leader_id":"t1"`) && strings.Contains(body, `"leader_api":"`+leader)
	})
	return leader, follower
}

// TestForwardedWrites: writes sent to a follower reach the leader's log
// in the encoding the follower gave them and answer as they would on the
// leader: a put and its version, a CAS conflict with the current version,
// a delete.
func TestForwardedWrites(t *testing.T) {
	leader, follower := startPair(t, nil)
	code, _, body := do(t, http.MethodPut, follower+"/api/v1/kv/k", "v1")
	var put struct{ Version uint64 }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &put) != nil || put.Version == 0 {
		t.Fatalf("put through the follower: HTTP %d %s", code, body)
	}
	code, h, body := do(t, http.MethodGet, leader+"/api/v1/kv/k", "")
	if code != http.StatusOK || body != "v1" || h.Get("X-Version") != strconv.FormatUint(put.Version, 10) {
		t.Errorf("leader reads HTTP %d %q version %s; want v1 at %d", code, body, h.Get("X-Version"), put.Version)
	}
	code, _, body = do(t, http.MethodPost, follower+"/api/v1/kv/k/cas?expect_version=0", "v2")
	if code != http.StatusConflict || !strings.Contains(body, fmt.Sprintf(`"version":%d`, put.Version)) {
		t.Errorf("conflicting CAS through the follower: HTTP %d %s; want 409 with version %d", code, body, put.Version)
	}
	if code, _, body = do(t, http.MethodDelete, follower+"/api/v1/kv/k", ""); code != http.StatusOK {
		t.Errorf("delete through the follower: HTTP %d %s", code, body)
	}
	if code, _, _ = do(t, http.MethodGet, leader+"/api/v1/kv/k", ""); code != http.StatusNotFound {
		t.Errorf("after the delete the leader answers HTTP %d, want 404", code)
	}
}

// TestForwardingKeepsConnections: a follower forwards its writes over
// kept-alive connections, not one new connection to the leader per write.
func TestForwardingKeepsConnections(t *testing.T) {
	leader, follower := startPair(t, nil)
	opened := func() int {
		_, _, body := do(t, http.MethodGet, leader+"/metrics", "")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "odbench_node_http_connections_opened_total "); ok {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		t.Fatal("the leader's /metrics has no odbench_node_http_connections_opened_total")
		return 0
	}
	before := opened()
	const writes = 40
	for i := range writes {
		if code, _, body := do(t, http.MethodPut, follower+"/api/v1/kv/k"+strconv.Itoa(i), "v"); code != http.StatusOK {
			t.Fatalf("put through the follower: HTTP %d %s", code, body)
		}
	}
	if n := opened() - before; n > 3 {
		t.Errorf("%d writes forwarded over %d new connections to the leader; want them kept alive", writes, n)
	}
}

// TestForwardToStalledLeader: a follower whose leader does not answer a
// forwarded write within the forward timeout answers 504 naming the
// leader, not 503 "no leader" (there is one).
func TestForwardToStalledLeader(t *testing.T) {
	leader, follower := startPair(t, func(leader, follower *Config) {
		leader.HangPath, follower.ForwardTimeout = "/api/v1/internal/apply", 300*time.Millisecond
	})
	code, _, body := do(t, http.MethodPut, follower+"/api/v1/kv/x", "v")
	if code != http.StatusGatewayTimeout || !strings.Contains(body, "leader t1 ("+leader+") did not answer in time") {
		t.Errorf("HTTP %d %s; want 504 naming the leader", code, body)
	}
}

// FuzzRequestBodies posts any bytes to the routes that decode a JSON body
// (models excepted: a valid one would write a blob to disk), and as a
// forwarded command in its log encoding, to one running node. Malformed
// input gets a 4xx, never a 5xx or a crash, and the node still answers
// afterwards.
func FuzzRequestBodies(f *testing.F) {
	for _, seed := range []string{
		`{"op":"put","key":"k","value":"dg=="}`, `{"op":"nonsense"}`, `{"drop":["nobody"]}`, `{"links":{"t1":{"delay":"1ms","jitter":"1ms","loss_percent":5,"bandwidth_kb_per_s":10}}}`, `{"disk_delay":"2ms"}`,
		`{"model":"m","prompt":"hi","options":{"num_predict":-1}}`, `{"payload_bytes":2000}`, `{"policy":"fastest"}`,
		`{"id":"x","payload_bytes":0}`, `[1,2`, `null`, `"str"`, `{"op":"node_register","node":null}`,
	} {
		f.Add([]byte(seed))
	}
	for _, c := range []Command{{Op: opPut, Key: "k", Value: []byte("v")}, {Op: opCAS, Key: "k", ExpectVersion: 3}} {
		b, _ := encodeCommand(c)
		f.Add(b)
	}
	api := startNode(f)
	routes := map[string]string{"/api/v1/admin/faults": "application/json", "/api/generate": "application/json",
		"/api/v1/chat": "application/json", "/api/v1/p2p/broadcast": "application/json", "/api/v1/admin/policy": "application/json",
		"/api/v1/kv/fuzz/cas?expect_version=0": "application/octet-stream",
		"/api/v1/internal/apply":               commandType, // appended to the log as it is: the FSM must refuse garbage
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for route, ct := range routes {
			resp, err := http.Post(api+route, ct, bytes.NewReader(body))
			if err != nil {
				t.Fatalf("POST %s: %v", route, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 500 {
				t.Errorf("POST %s %q: HTTP %d %s", route, body, resp.StatusCode, b)
			}
		}
		_, _ = http.Post(api+"/api/v1/admin/policy", "application/json", strings.NewReader(`{"policy":"round_robin"}`))
		req, _ := http.NewRequest(http.MethodDelete, api+"/api/v1/admin/faults", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		if code, _, _ := do(t, http.MethodGet, api+"/api/v1/health", ""); code != http.StatusOK {
			t.Fatalf("health after %q: HTTP %d", body, code)
		}
	})
}

// pprof answers GET only, and only when the node serves it.
func TestPprofRoutes(t *testing.T) {
	on := DefaultConfig()
	on.ID, on.Bootstrap, on.Pprof = "p1", true, true
	api := startNodeWith(t, on)
	if code, _, _ := get(t, api+"/debug/pprof/heap?gc=1"); code != http.StatusOK {
		t.Errorf("GET heap?gc=1 = %d, want 200", code)
	}
	if code, _, _ := do(t, "POST", api+"/debug/pprof/profile?seconds=30", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("POST profile = %d, want 405", code)
	}
	off := DefaultConfig()
	off.ID, off.Bootstrap = "p2", true
	api = startNodeWith(t, off)
	if code, _, _ := get(t, api+"/debug/pprof/heap"); code != http.StatusNotFound {
		t.Errorf("GET heap without --pprof = %d, want 404", code)
	}
}
