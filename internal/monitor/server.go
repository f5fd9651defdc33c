package monitor

import (
	"context"
	"embed"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/odbench/odbench/internal/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed dashboard.html
var dashboardHTML []byte

// static holds the vendored charting library (uPlot, with its license):
// the dashboard works offline.
//
//go:embed static
var static embed.FS

// historySpan is how far back the dashboard's charts reach.
const historySpan = 5 * time.Minute

// Server collects snapshots on a ticker and serves them.
type Server struct {
	collector *Collector
	engine    *Engine
	notifier  *notifier
	interval  time.Duration
	log       io.Writer

	mu         sync.Mutex
	history    []Snapshot
	historyLen int // snapshots in historySpan
	subs       map[chan []byte]struct{}

	reg     *prometheus.Registry
	metric  *prometheus.GaugeVec
	firing  *prometheus.GaugeVec
	dropped prometheus.Counter
}

// NewServer watches the nodes at urls with cfg's interval and alert rules;
// alert changes are written to log.
func NewServer(ctx context.Context, urls []string, cfg config.Monitor, log io.Writer) *Server {
	s := &Server{collector: NewCollector(ctx, urls, cfg.LatencyWindow), engine: NewEngine(cfg.Alerts), notifier: newNotifier(cfg.Alerts, log),
		interval: cfg.Interval, log: log,
		subs: map[chan []byte]struct{}{}, reg: prometheus.NewRegistry(), historyLen: max(int(historySpan/cfg.Interval), 10)}
	s.metric = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "odbench_monitor", Name: "metric",
		Help: "The dashboard's metrics, by name (cpu_percent, requests_per_s, ...)."}, []string{"name"})
	s.firing = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "odbench_monitor", Name: "alert_firing",
		Help: "1 while an alert rule fires."}, []string{"rule", "severity"})
	s.dropped = prometheus.NewCounter(prometheus.CounterOpts{Namespace: "odbench_monitor", Name: "updates_dropped_total",
		Help: "Dashboard updates a slow WebSocket client missed."})
	s.reg.MustRegister(s.metric, s.firing, s.dropped)
	for _, r := range cfg.Alerts { // every rule has a series from the start: 0 until it fires
		s.firing.WithLabelValues(r.Name, r.Severity).Set(0)
	}
	return s
}

// SetURL names the dashboard's address in the alerts its actions send.
func (s *Server) SetURL(u string) { s.notifier.dashboard = u }

// Run collects until ctx ends, and delivers alert actions meanwhile.
func (s *Server) Run(ctx context.Context) {
	done := make(chan struct{})
	go func() { defer close(done); s.notifier.run(ctx) }()
	defer func() { <-done }()
	t := time.NewTicker(s.interval)
	defer t.Stop()
	s.tick(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tick(ctx)
		}
	}
}

func (s *Server) tick(ctx context.Context) {
	snap := s.collector.Collect(ctx)
	snap.Alerts = s.engine.Evaluate(snap)
	s.notifier.notify(snap.Alerts, snap.At)
	snap.ActionFailures = s.notifier.recentFailures()
	for name, v := range snap.Metrics {
		s.metric.WithLabelValues(name).Set(v)
	}
	for _, a := range snap.Alerts {
		v := 0.0
		if a.State == "firing" {
			v = 1
		}
		s.firing.WithLabelValues(a.Rule, a.Severity).Set(v)
		if a.Changed {
			fmt.Fprintf(s.log, "odbench monitor: alert %s %s (%s): %s\n", a.Rule, a.State, a.Severity, a.Message)
		}
	}
	msg, _ := json.Marshal(map[string]any{"type": "snapshot", "snapshot": snap})
	s.mu.Lock()
	s.history = append(s.history, snap)
	if len(s.history) > s.historyLen {
		s.history = s.history[len(s.history)-s.historyLen:]
	}
	for ch := range s.subs {
		select {
		case ch <- msg:
		default: // a slow client misses this update; the collector never waits
			s.dropped.Inc()
		}
	}
	s.mu.Unlock()
}

// Latest returns the newest snapshot, if any.
func (s *Server) Latest() (Snapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.history) == 0 {
		return Snapshot{}, false
	}
	return s.history[len(s.history)-1], true
}

// Handler serves the dashboard (/), its charting library (/static/), its
// WebSocket (/ws), the latest snapshot (/api/snapshot) and Prometheus
// metrics (/metrics).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", http.FileServerFS(static))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(dashboardHTML)
	})
	mux.HandleFunc("GET /api/snapshot", func(w http.ResponseWriter, r *http.Request) {
		snap, ok := s.Latest()
		if !ok {
			http.Error(w, `{"error":"no snapshot yet"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(snap)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /ws", s.serveWS)
	return mux
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ch := make(chan []byte, 16)
	s.mu.Lock()
	hist, _ := json.Marshal(map[string]any{"type": "history", "snapshots": s.history, "max": s.historyLen})
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}()
	ctx := conn.CloseRead(r.Context()) // the dashboard sends nothing; this notices it leave
	write := func(msg []byte) error {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, msg)
	}
	if write(hist) != nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-ch:
			if write(msg) != nil {
				return
			}
		}
	}
}
