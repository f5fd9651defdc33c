package cluster

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/target"
)

// A member that answers at all is alive, whatever it says of itself; only
// a node that does not answer, or a gateway that cannot reach it, is lost.
func TestExternalProbeTellsDeadFromUnhappy(t *testing.T) {
	status := func(code int) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(s.Close)
		return s
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		url  string
		lost bool
	}{
		{"healthy", status(http.StatusOK).URL, false},
		{"no leader (503)", status(http.StatusServiceUnavailable).URL, false},
		{"rate-limited (429)", status(http.StatusTooManyRequests).URL, false},
		{"gateway cannot reach it (502)", status(http.StatusBadGateway).URL, true},
		{"connection refused", refused, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewExternal([]string{tt.url}, nil, time.Second)
			c := &external{drv: d, caller: newCaller(0), nodes: []Node{{ID: "node-1", API: tt.url}}}
			errs := c.Probe(context.Background())
			if lost := len(errs) > 0; lost != tt.lost {
				t.Fatalf("Probe = %v, want lost %v", errs, tt.lost)
			}
			if tt.lost && !strings.Contains(errs[0].Error(), "node-1") {
				t.Errorf("the error %q does not name the node", errs[0])
			}
		})
	}
}

// A target that limits requests (100 a minute, as ollama-distributed
// does) and never forms: odbench's polling stays within the limit, and
// "not formed" shows what the target answered, never odbench's own 429s
// or its pacing.
func TestNotFormedShowsTheTargetsAnswers(t *testing.T) {
	var (
		mu       sync.Mutex
		served   []time.Time
		limited  int
		perWhile = 5 // requests allowed per second; odbench paces below 2
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		now := time.Now()
		recent := 0
		for _, at := range served {
			if now.Sub(at) < time.Second {
				recent++
			}
		}
		served = append(served, now)
		if recent >= perWhile {
			limited++
			mu.Unlock()
			http.Error(w, `{"error":"rate limit exceeded"}`, http.StatusTooManyRequests)
			return
		}
		mu.Unlock()
		switch r.URL.Path {
		case "/api/v1/health":
			w.Write([]byte(`{"status":"healthy"}`))
		default:
			w.Write([]byte(`{"node_id":"12D3KooW","leader":"unknown","peers":[]}`))
		}
	}))
	t.Cleanup(srv.Close)
	p, err := target.Parse("limited.yaml", []byte(`
name: limited
rate_limit: 2/s
health: {method: GET, path: /api/v1/health}
ready:
  - {method: GET, path: /api/v1/cluster/status, json: peers, count_at_least: "{{.Others}}"}
  - {method: GET, path: /api/v1/cluster/status, json: leader, not_equals: "unknown"}
status: {method: GET, path: /api/v1/cluster/status, id: node_id, leader: leader, no_leader: ["", "unknown"]}
`))
	if err != nil {
		t.Fatal(err)
	}
	d := NewExternal([]string{srv.URL}, p, 3*time.Second)
	d.RateLimit = 2
	_, err = d.Start(context.Background(), 1)
	if !errors.Is(err, ErrNotFormed) || !strings.Contains(err.Error(), `node-1 reports leader "unknown" (want anything else)`) ||
		strings.Contains(err.Error(), "rate") || strings.Contains(err.Error(), "429") {
		t.Errorf("err = %v, want not formed with the target's answer, and nothing of rate limits", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if limited > 0 {
		t.Errorf("%d of odbench's %d requests were refused by the target's rate limit", limited, len(served))
	}
}
