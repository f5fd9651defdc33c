package scenarios

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

func TestMain(m *testing.M) { os.Exit(clustertest.MainWithLeakCheck(m)) }

// shortConfig keeps scenarios short for tests.
func shortConfig() *config.Config {
	cfg := config.Default()
	cfg.Execution.Duration = time.Second
	cfg.Execution.WarmupDuration = 200 * time.Millisecond
	cfg.Execution.ConcurrentWorkers = 4
	cfg.System.ConcurrencyLevels = []int{1, 4}
	cfg.Consensus.HighConcurrency = 16
	cfg.Consensus.ValueSizes = []int{64}
	cfg.Consensus.KeySpace = 50
	cfg.Concurrency.StepStartRate, cfg.Concurrency.StepIncrement = 50, 50
	cfg.Concurrency.StepDuration, cfg.Concurrency.MaxSteps = 500*time.Millisecond, 2
	cfg.Inference.NumPredict = 4
	cfg.API.OpenLoopRate = 50
	cfg.System.ModelSizes = []int{2}
	cfg.Memory.MinDuration = 6 * time.Second // the shortest soak whose leak check can be evaluated
	return &cfg
}

func specNamed(t *testing.T, cfg *config.Config, name string) Spec {
	t.Helper()
	for _, s := range All(cfg) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no scenario %q", name)
	return Spec{}
}

func run(t *testing.T, cfg *config.Config, spec Spec, c cluster.Cluster) (metrics.Scenario, *Env, error) {
	t.Helper()
	env := NewEnv(cfg, slog.New(slog.DiscardHandler), spec, t.TempDir(), 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := spec.Run(ctx, env, c)
	res, _, _ := env.Result()
	return res, env, err
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	// The custom category has the scenarios the configuration declares.
	cfg.Scenarios.Custom = []config.CustomScenario{{Name: "x", Operations: []config.CustomOperation{
		{Name: "get", CustomRequest: config.CustomRequest{Method: "GET", Path: "/"}}}}}
	specs := All(&cfg)
	seen := map[string]bool{}
	cats := map[string]int{}
	for _, s := range specs {
		if seen[s.Name] {
			t.Errorf("duplicate name %q", s.Name)
		}
		seen[s.Name] = true
		if !strings.HasPrefix(s.Name, s.Category+"/") {
			t.Errorf("%q does not start with its category %q", s.Name, s.Category)
		}
		cats[s.Category]++
	}
	for _, c := range Implemented() {
		if cats[c] == 0 {
			t.Errorf("category %s is implemented but has no scenario", c)
		}
	}
	for _, want := range config.Categories() {
		if cats[want] == 0 {
			t.Errorf("no %s scenarios", want)
		}
	}
	cfg.OnlyCategories([]string{"api"})
	for _, s := range All(&cfg) {
		if s.Category != "api" {
			t.Errorf("--categories api still plans %s", s.Name)
		}
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pattern string
		want          bool
	}{
		{"api/health_check/clients=1", "api/health_check/clients=1", true},
		{"api/health_check/clients=10", "api/health_check/clients=1", false},
		{"api/health_check/clients=10", "api/health_check", true},
		{"api/health_check/clients=10", "api/health_check/", true},
		{"api/health_check/rate=200", "api/*/rate=*", true},
		{"api/health_checker", "api/health_check", false},
		{"consensus/apply/clients=1/value=128B", "consensus", true},
	}
	for _, tt := range tests {
		if got := Matches(tt.name, tt.pattern); got != tt.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tt.name, tt.pattern, got, tt.want)
		}
	}
}

// TestSkipsWhatTheTargetLacks: a target that serves health and status
// but no KV, models or policy API gets skips with reasons, not failures.
// (A missing inference API is found by the runner's probe before any
// inference scenario runs: TestProbeFindsWhatTheTargetServes.)
func TestSkipsWhatTheTargetLacks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/health":
			w.Write([]byte(`{"status":"ok"}`))
		case "/api/v1/cluster/status":
			w.Write([]byte(`{"id":"x","leader_id":"x","leader_api":"` + "http://" + r.Host + `","term":1}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	c, err := cluster.NewExternal([]string{srv.URL, srv.URL}, nil, 5*time.Second).Start(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := shortConfig()
	for _, name := range []string{"consensus/apply/clients=1/value=128B",
		"loadbalance/policy=round_robin", "api/model_operations/clients=1", "concurrency/contention/op=kv_write"} {
		t.Run(name, func(t *testing.T) {
			_, _, err := run(t, cfg, specNamed(t, cfg, name), c)
			var skip *SkipError
			if !errors.As(err, &skip) || skip.Reason == "" {
				t.Fatalf("err = %v, want a skip with a reason", err)
			}
		})
	}
}

// TestFaults runs every fault scenario on 3 nodes: each injects its
// fault (the events say when), the cluster recovers, and no acknowledged
// write is lost.
func TestFaults(t *testing.T) {
	c := localtest.Start(t, 3)
	cfg := shortConfig()
	cfg.Execution.Duration = 2 * time.Second
	cfg.Faults.LeaderKills = 2
	for _, name := range []string{"faults/leader_failure", "faults/partition_minority", "faults/node_pause",
		"faults/slow_link", "faults/lossy_link", "faults/bandwidth_cap", "faults/slow_disk", "faults/inference_node_failure"} {
		t.Run(name, func(t *testing.T) {
			res, _, err := run(t, cfg, specNamed(t, cfg, name), c)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, e := range res.Events {
				kinds[e.Kind] = true
			}
			if len(kinds) < 2 {
				t.Errorf("events %+v: want a fault start and stop", res.Events)
			}
			for _, ch := range res.Checks {
				if !ch.Passed {
					t.Errorf("check %s failed: %s", ch.Name, ch.Detail)
				}
			}
			for _, ch := range res.Checks {
				t.Logf("%s: %s", ch.Name, ch.Detail)
			}
			scalars := map[string]float64{}
			for _, sc := range res.Scalars {
				if sc.Value != nil {
					scalars[sc.Name] = *sc.Value
				}
			}
			op := "put"
			if name == "faults/inference_node_failure" {
				op = "e2e"
				for _, w := range []string{"before", "during", "after"} {
					if _, ok := scalars["goodput_percent@"+w]; !ok {
						t.Errorf("no goodput_percent@%s among %v", w, scalars)
					}
				}
			} else if scalars["acknowledged_writes"] <= 0 {
				t.Errorf("no acknowledged writes recorded")
			}
			if cs := res.Consistency; cs == nil || cs.Verdict != "linearizable" || cs.Operations < 100 {
				t.Errorf("consistency %+v: want a linearizable history of at least 100 operations", cs)
			}
			windows := map[string]bool{}
			for _, o := range res.Operations {
				if o.PhaseOf == op && o.WindowMs > 0 {
					windows[o.Name] = true
					t.Logf("%s: %d ok, %d errors (%v) over %d ms, %.0f/s, p99 %v", o.Name, o.Count, o.Errors, o.ErrorsByKind, o.WindowMs, o.ThroughputOpsPerSec, time.Duration(o.Latency.P99Ns))
				}
			}
			for _, w := range []string{"before", "during", "after"} {
				if !windows[op+"@"+w] {
					t.Errorf("no %s@%s window among the operations", op, w)
				}
			}
		})
	}
	if _, ok := interface{}(c).(cluster.Partitioner); !ok {
		t.Fatal("the local cluster should partition")
	}
}

// The linearizability check's negative controls: nodes broken in two
// known ways must be caught, with the history drawn.
func TestLinearizabilityCheckCatchesBrokenNodes(t *testing.T) {
	cases := []struct {
		flag, scenario string
	}{
		{"--debug-stale-reads", "faults/partition_minority"},
		{"--debug-ack-before-commit", "faults/leader_failure"},
	}
	for _, tc := range cases {
		t.Run(tc.flag, func(t *testing.T) {
			c := localtest.Start(t, 3, tc.flag)
			cfg := shortConfig()
			cfg.Execution.Duration = 2 * time.Second
			res, _, err := run(t, cfg, specNamed(t, cfg, tc.scenario), c)
			if err != nil {
				t.Fatal(err)
			}
			cs := res.Consistency
			for _, ch := range res.Checks {
				t.Logf("%s: %s", ch.Name, ch.Detail)
			}
			if cs == nil || cs.Verdict != "violation" {
				t.Fatalf("consistency %+v: want a violation", cs)
			}
			if b, err := os.ReadFile(cs.Visualization); err != nil || !strings.Contains(string(b), "<html") {
				t.Errorf("visualization %q: %v", cs.Visualization, err)
			}
			var failed bool
			for _, ch := range res.Checks {
				if ch.Name == "linearizable" {
					failed = !ch.Passed && ch.Severity == metrics.SeverityFail && strings.Contains(ch.Detail, cs.Visualization)
				}
			}
			if !failed {
				t.Errorf("checks %+v: want a failed linearizable check naming the drawing", res.Checks)
			}
		})
	}
}

func TestConsensusWithConsistencyCheck(t *testing.T) {
	c := localtest.Start(t, 3)
	cfg := shortConfig()
	cfg.Consensus.CheckConsistency = true
	res, _, err := run(t, cfg, specNamed(t, cfg, "consensus/read/linearizable/clients=4"), c)
	if err != nil {
		t.Fatal(err)
	}
	if cs := res.Consistency; cs == nil || cs.Verdict != "linearizable" || cs.Operations == 0 {
		t.Errorf("consistency %+v: want a linearizable history", cs)
	}
}

func TestDeadlockDetection(t *testing.T) {
	cfg := shortConfig()
	cfg.Execution.Duration = 2 * time.Second
	cfg.Execution.WarmupDuration = 0
	cfg.Concurrency.HangThreshold = 500 * time.Millisecond
	spec := specNamed(t, cfg, "concurrency/deadlock/clients=4")

	t.Run("fires on a hanging endpoint", func(t *testing.T) {
		c := localtest.Start(t, 1, "--debug-hang-path", "/api/v1/nodes")
		res, env, err := run(t, cfg, spec, c)
		if err != nil {
			t.Fatal(err)
		}
		wantFailed(t, res, "no_hung_operation", metrics.SeverityFail)
		if d := res.Checks[0].Detail; !strings.Contains(d, "possible deadlock") || !strings.Contains(d, "api_read") {
			t.Fatalf("detail = %q, want a possible deadlock naming api_read", d)
		}
		dumps, _ := filepath.Glob(filepath.Join(env.Dir, "goroutines-*", "n1.txt"))
		if len(dumps) != 1 {
			t.Fatalf("goroutine dumps: %v, want n1's", dumps)
		}
		if b, _ := os.ReadFile(dumps[0]); !strings.Contains(string(b), "goroutine ") {
			t.Errorf("dump does not look like a goroutine dump: %.100s", b)
		}
		if len(res.Checks) != 1 || res.Checks[0].Passed {
			t.Errorf("checks = %+v, want one failed", res.Checks)
		}
	})
	t.Run("silent on a healthy cluster", func(t *testing.T) {
		// 1 s, not 0.5 s: a loaded CI machine must not pass for a deadlock;
		// the 2 s run still lets a real hang trip it.
		healthy := *cfg
		healthy.Concurrency.HangThreshold = time.Second
		c := localtest.Start(t, 1)
		res, env, err := run(t, &healthy, spec, c)
		if err != nil {
			t.Fatalf("healthy cluster: %v", err)
		}
		if dumps, _ := filepath.Glob(filepath.Join(env.Dir, "goroutines-*")); len(dumps) != 0 {
			t.Errorf("dumps taken on a healthy cluster: %v", dumps)
		}
		if len(res.Checks) != 1 || !res.Checks[0].Passed {
			t.Errorf("checks = %+v, want one passed", res.Checks)
		}
	})
}

// TestEveryCategoryOnLocalCluster runs one scenario of each category
// against 3 reference nodes: each succeeds, stores a histogram for every
// operation, and leaves no key or model behind.
func TestEveryCategoryOnLocalCluster(t *testing.T) {
	c := localtest.Start(t, 3, "--token-delay", "1ms")
	cfg := shortConfig()
	for _, name := range []string{
		"consensus/apply/clients=4/value=128B",
		"consensus/read/stale/clients=4",
		"api/node_operations/clients=4",
		"api/model_operations/rate=50",
		"api/generate_requests/clients=4",
		"concurrency/mixed/clients=4",
		"concurrency/contention/op=kv_write",
		"concurrency/stress/op=kv_write",
		"loadbalance/policy=round_robin",
		"inference/generate/poisson_rate=20",
		"p2p/broadcast/payload=256B",
		"p2p/locate/clients=4",
		"p2p/rejoin",
		"models/download/size=2MB",
		"models/replication/size=2MB",
		"models/blob_access/clients=4",
		"memory/soak/clients=4",
	} {
		t.Run(name, func(t *testing.T) {
			res, _, err := run(t, cfg, specNamed(t, cfg, name), c)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Operations) == 0 {
				t.Fatal("no operations recorded")
			}
			for _, op := range res.Operations {
				if op.Count > 0 && op.Histogram == "" {
					t.Errorf("operation %s has no histogram", op.Name)
				}
				if op.Errors > 0 {
					t.Errorf("operation %s: %d errors %v", op.Name, op.Errors, op.ErrorsByKind)
				}
			}
			for _, ch := range res.Checks {
				if !ch.Passed {
					t.Errorf("check %s (%s) failed on a healthy cluster: %s", ch.Name, ch.Severity, ch.Detail)
				}
			}
		})
	}
	client := NewAPI(newFast(), defaultTarget())
	var models struct {
		Models []struct{ Name string } `json:"models"`
	}
	if err := client.Get(context.Background(), c.Nodes()[0].API, "models_list", target.Vars{}, &models); err != nil {
		t.Fatal(err)
	}
	if len(models.Models) != 0 {
		t.Errorf("models left behind: %+v", models.Models)
	}
	var km struct {
		Keys int `json:"kv_keys"`
	}
	if err := client.Get(context.Background(), c.Nodes()[0].API, "metrics", target.Vars{}, &km); err != nil {
		t.Fatal(err)
	}
	if km.Keys != 0 {
		t.Errorf("%d keys left behind", km.Keys)
	}
}

func newFast() *load.FastClient { return load.NewFastClient(4, 10*time.Second) }

// TestProbeFindsWhatTheTargetServes: route families the target lacks
// (404 from its mux, a placeholder answer) are found before any scenario
// runs; a route answering about a missing resource counts as served.
func TestProbeFindsWhatTheTargetServes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/health", r.URL.Path == "/api/v1/cluster/status":
			w.Write([]byte(`{"status":"ok","leader_id":"x"}`))
		case r.URL.Path == "/api/v1/nodes":
			w.Write([]byte(`{"status":"not implemented yet"}`))
		case strings.HasPrefix(r.URL.Path, "/api/v1/kv/"):
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"key not found"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := cluster.NewExternal([]string{srv.URL}, nil, 5*time.Second).Start(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	caps := Probe(context.Background(), c, &cfg, defaultTarget())
	if _, ok := caps[famKV]; ok {
		t.Errorf("the KV route answers about a missing key, so it is served: %q", caps[famKV])
	}
	if !strings.Contains(caps[famNodes], "placeholder") {
		t.Errorf("nodes: %q, want a placeholder found", caps[famNodes])
	}
	if caps[famModels] != "GET /api/v1/models answered HTTP 404" {
		t.Errorf("models: %q", caps[famModels])
	}
	spec := specNamed(t, &cfg, "api/model_operations/clients=1")
	if why := caps.Missing(spec); why != "the target does not serve model registry (GET /api/v1/models answered HTTP 404)" {
		t.Errorf("api/model_operations: %q", why)
	}
	if why := caps.Missing(specNamed(t, &cfg, "api/health_check/clients=1")); why != "" {
		t.Errorf("health_check would be skipped: %q", why)
	}
	for _, name := range []string{"inference/generate/clients=1", "faults/inference_node_failure"} {
		if why := caps.Missing(specNamed(t, &cfg, name)); !strings.Contains(why, "inference") {
			t.Errorf("%s against a target without an inference API: %q, want skipped naming it", name, why)
		}
	}
}

// TestCustomScenario runs a declared KV mix against a reference node: its
// operations are recorded like a built-in scenario's, an answer outside
// expect_status or failing an expect_json check counts as an error of its
// kind, and the data file feeds the bodies.
func TestCustomScenario(t *testing.T) {
	c := localtest.Start(t, 1)
	data := filepath.Join(t.TempDir(), "v.csv")
	if err := os.WriteFile(data, []byte("word\nalpha\nbeta\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := shortConfig()
	cfg.Scenarios.Custom = []config.CustomScenario{{Name: "kv", Keys: 20, Data: data,
		Load:  config.CustomLoad{Mode: "closed", Clients: []int{2}},
		Setup: []config.CustomRequest{{Method: "PUT", Path: "/api/v1/kv/{{.Key}}", Body: "seed"}},
		Operations: []config.CustomOperation{
			{Name: "write", CustomRequest: config.CustomRequest{Method: "PUT", Path: "/api/v1/kv/{{.Key}}", Body: "{{.Data.word}}-{{.Worker}}",
				ExpectJSON: []config.JSONCheck{{Path: "version", Exists: true}}}},
			{Name: "read", CustomRequest: config.CustomRequest{Method: "GET", Path: "/api/v1/kv/{{.Key}}", ExpectStatus: []int{200, 404}}},
			{Name: "wrong", Weight: 1, CustomRequest: config.CustomRequest{Method: "GET", Path: "/api/v1/health",
				ExpectJSON: []config.JSONCheck{{Path: "status", Equals: ptr("degraded")}}}},
		}}}
	res, _, err := run(t, cfg, specNamed(t, cfg, "custom/kv/clients=2"), c)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]metrics.Operation{}
	for _, op := range res.Operations {
		ops[op.Name] = op
	}
	if ops["write"].Count == 0 || ops["write"].Errors != 0 || ops["read"].Count == 0 || ops["read"].Errors != 0 {
		t.Errorf("write %+v, read %+v: want successes and no errors", ops["write"], ops["read"])
	}
	if w := ops["wrong"]; w.Count != 0 || w.ErrorsByKind["check_failed"] == 0 {
		t.Errorf("wrong: %d ok, errors %v: every answer fails its JSON check", w.Count, w.ErrorsByKind)
	}
	if res.Category != "custom" {
		t.Errorf("category %q", res.Category)
	}
}

func ptr(s string) *string { return &s }
