package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/odbench/odbench/internal/cluster/clustertest"
	"github.com/odbench/odbench/internal/config"
)

func TestMain(m *testing.M) { os.Exit(clustertest.MainWithLeakCheck(m)) }

func TestAlertEngine(t *testing.T) {
	t.Parallel()
	rule := config.AlertRule{Name: "high_cpu", Metric: "cpu_percent", Condition: ">", Threshold: 80, For: 2 * time.Second, Severity: "warning"}
	e := NewEngine([]config.AlertRule{rule})
	t0 := time.Unix(1000, 0)
	snap := func(sec int, cpu *float64) Snapshot {
		m := map[string]float64{}
		if cpu != nil {
			m["cpu_percent"] = *cpu
		}
		return Snapshot{At: t0.Add(time.Duration(sec) * time.Second), Metrics: m}
	}
	hi, lo := 95.0, 20.0
	steps := []struct {
		sec       int
		cpu       *float64
		wantState string
		changed   bool
	}{
		{0, &hi, "", false},        // holds, pending
		{1, &hi, "", false},        // 1 s < for
		{2, &hi, "firing", true},   // for reached
		{3, &hi, "firing", false},  // still firing
		{4, nil, "", false},        // metric absent: no judgement
		{5, &lo, "resolved", true}, // back below
		{6, &lo, "", false},        // quiet
		{7, &hi, "", false},        // pending again, from scratch
	}
	for _, st := range steps {
		alerts := e.Evaluate(snap(st.sec, st.cpu))
		if st.wantState == "" {
			if len(alerts) != 0 {
				t.Errorf("t=%ds: alerts %+v, want none", st.sec, alerts)
			}
			continue
		}
		if len(alerts) != 1 || alerts[0].State != st.wantState || alerts[0].Changed != st.changed {
			t.Errorf("t=%ds: alerts %+v, want one %s (changed %v)", st.sec, alerts, st.wantState, st.changed)
			continue
		}
		// Firing or resolved, the alert began when its condition did.
		if !alerts[0].Since.Equal(t0) {
			t.Errorf("t=%ds: %s since %v, want %v", st.sec, alerts[0].State, alerts[0].Since, t0)
		}
		if st.wantState == "resolved" && !alerts[0].Ended.Equal(t0.Add(5*time.Second)) {
			t.Errorf("resolved alert ended %v, want %v", alerts[0].Ended, t0.Add(5*time.Second))
		}
	}
}

// Latency covers the probes of the last latency window: a target that
// recovers reads as recovered once its slow probes age out, not after a
// fixed number of later probes.
func TestLatencyWindowForgetsOldProbes(t *testing.T) {
	t.Parallel()
	var slow atomic.Bool
	slow.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/health" && slow.Load() {
			time.Sleep(time.Second)
		}
		fmt.Fprint(w, `{}`)
	}))
	defer srv.Close()
	ctx := context.Background()
	c := NewCollector(ctx, []string{srv.URL}, 500*time.Millisecond)
	if s := c.Collect(ctx); s.Metrics["latency_p95_ms"] < 1000 {
		t.Fatalf("slow probe: p95 %v ms, want at least 1000", s.Metrics["latency_p95_ms"])
	}
	slow.Store(false)
	time.Sleep(600 * time.Millisecond) // the slow probe leaves the window
	if s := c.Collect(ctx); s.Metrics["latency_p95_ms"] >= 1000 {
		t.Errorf("after the window: p95 %v ms, want only the fast probe", s.Metrics["latency_p95_ms"])
	}
}

// fakeNode serves health and metrics with counters that grow by 50
// requests (5 of them 5xx) and 20 commits per poll.
func fakeNode(t *testing.T) *httptest.Server {
	var polls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/health":
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/api/v1/metrics":
			n := polls.Add(1)
			fmt.Fprintf(w, `{"id":"n1","goroutines":40,"heap_alloc_bytes":%d,"requests_total":%d,"server_errors_total":%d,"raft_commit_index":%d}`,
				8<<20, 50*n, 5*n, 20*n)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestServerStreamsSnapshots(t *testing.T) {
	node := fakeNode(t)
	cfg := config.Default().Monitor
	cfg.Interval = 100 * time.Millisecond
	cfg.Alerts = []config.AlertRule{{Name: "errors", Metric: "error_rate_percent", Condition: ">", Threshold: 5, Severity: "critical"}}
	logged := &syncWriter{w: &strings.Builder{}}
	srv := NewServer(context.Background(), []string{node.URL}, cfg, logged)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	conn, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var live Snapshot
	for {
		_, b, err := conn.Read(dctx)
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Type     string   `json:"type"`
			Snapshot Snapshot `json:"snapshot"`
		}
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		if msg.Type == "snapshot" {
			if _, ok := msg.Snapshot.Metrics["requests_per_s"]; ok {
				live = msg.Snapshot
				break
			}
		}
	}
	conn.Close(websocket.StatusNormalClosure, "")
	if v := live.Metrics["error_rate_percent"]; v < 9.9 || v > 10.1 {
		t.Errorf("error rate %v%%, want 10%% (5 of every 50 requests)", v)
	}
	if live.Metrics["requests_per_s"] <= 0 || live.Metrics["ops_per_s"] <= 0 || live.Metrics["goroutines"] != 40 {
		t.Errorf("metrics %v", live.Metrics)
	}
	if _, ok := live.Metrics["latency_p95_ms"]; !ok {
		t.Error("no probe latency")
	}
	if v, ok := live.Metrics["steal_percent"]; runtime.GOOS == "linux" && (!ok || v < 0 || v > 100) {
		t.Errorf("steal %v (reported %v), want a percentage on Linux (missing: %v)", v, ok, live.Missing)
	}
	if len(live.Alerts) != 1 || live.Alerts[0].State != "firing" {
		t.Errorf("alerts %+v, want the error-rate rule firing", live.Alerts)
	}
	for path, want := range map[string]string{"/": "odbench monitor", "/metrics": `odbench_monitor_metric{name="requests_per_s"}`,
		"/api/snapshot": `"error_rate_percent"`} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("GET %s lacks %q", path, want)
		}
	}
	if !strings.Contains(logged.String(), "alert errors firing (critical)") {
		t.Errorf("alert log %q", logged.String())
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*strings.Builder).String()
}
