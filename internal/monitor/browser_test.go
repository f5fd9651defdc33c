package monitor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/browsertest"
	"github.com/odbench/odbench/internal/cluster/localtest"
	"github.com/odbench/odbench/internal/config"
)

// TestDashboardInABrowser opens the dashboard in headless Chromium
// against a running reference node: the page connects, its charts get
// points with a time axis, and an alert that a rule fires (requests above
// a rate the test then sends) is on the page within two intervals of the
// collector firing it. The page must log no error.
func TestDashboardInABrowser(t *testing.T) {
	b := browsertest.New(t, 90*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := localtest.Start(t, 1)
	node := c.Nodes()[0].API

	interval := 500 * time.Millisecond
	cfg := config.Monitor{Interval: interval, Alerts: []config.AlertRule{
		{Name: "busy", Metric: "requests_per_s", Condition: ">", Threshold: 100, Severity: "warning"}}}
	srvCtx, stopSrv := context.WithCancel(ctx)
	srv := NewServer(srvCtx, []string{node}, cfg, io.Discard)
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(srvCtx) }()
	defer func() { stopSrv(); <-done }()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	if err := b.Open(hs.URL+"/", "#chart-requests"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WaitFor(`+document.querySelector("#chart-goroutines").dataset.points >= 3`, 10*time.Second); err != nil {
		t.Fatalf("the goroutines chart got no points: %v", err)
	}
	axes, err := browsertest.Eval[int](b, `document.querySelectorAll("#chart-goroutines .u-axis").length`)
	if err != nil || axes < 2 {
		t.Errorf("the goroutines chart has %d axes (%v), want a time axis and a value axis", axes, err)
	}

	// Load the node past the rule's threshold; note when the collector fires.
	var fired atomic.Int64
	go func() {
		for ctx.Err() == nil && fired.Load() == 0 {
			if snap, ok := srv.Latest(); ok {
				for _, a := range snap.Alerts {
					if a.Rule == "busy" && a.State == "firing" {
						fired.Store(time.Now().UnixNano())
					}
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	go func() {
		client := &http.Client{Timeout: 2 * time.Second}
		for loadCtx.Err() == nil {
			if resp, err := client.Get(node + "/api/v1/health"); err == nil {
				resp.Body.Close()
			}
		}
	}()
	if _, err := b.WaitFor(`[...document.querySelectorAll("#alerts tr.alert td.firing")].length > 0`, 15*time.Second); err != nil {
		t.Fatalf("the fired alert never showed: %v", err)
	}
	stopLoad()
	if fired.Load() == 0 {
		t.Error("the page shows an alert the collector never fired")
	}
	// Resolved, it stays in the log beside its firing, and the charts'
	// markers say which alert they mark.
	if _, err := b.WaitFor(`[...document.querySelectorAll("#alertlog tr.logged td.resolved")].length > 0`, 20*time.Second); err != nil {
		t.Fatalf("the alert never showed as resolved in the log: %v", err)
	}
	log, err := browsertest.Eval[string](b, `[...document.querySelectorAll("#alertlog tr.logged")].map(r => r.innerText.replace(/\s+/g, " ")).join("\n")`)
	if err != nil || !strings.Contains(log, "busy warning fired") || !strings.Contains(log, "busy warning resolved") {
		t.Errorf("alert log %q (%v): want busy's firing and its resolution", log, err)
	}
	if marks, err := browsertest.Eval[string](b, `document.querySelector("#chart-requests").dataset.marks || ""`); err != nil ||
		!strings.Contains(marks, "busy fired") || !strings.Contains(marks, "busy resolved") {
		t.Errorf("the requests chart's markers %q (%v): want them named", marks, err)
	}
	if errs := b.Errors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %q", errs)
	}
}
