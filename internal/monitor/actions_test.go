package monitor

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/odbench/odbench/internal/config"
)

// TestAlertReachesWebhookInAlertmanagerFormat: an alert that fires and
// resolves is POSTed twice in Alertmanager's webhook shape, the first
// failed attempt retried.
func TestAlertReachesWebhookInAlertmanagerFormat(t *testing.T) {
	var mu sync.Mutex
	var got []amPayload
	var calls atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "not yet", http.StatusServiceUnavailable) // the first attempt fails
			return
		}
		var p amPayload
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("payload: %v (%s)", err, r.Header.Get("Content-Type"))
		}
		mu.Lock()
		got = append(got, p)
		mu.Unlock()
	}))
	defer recv.Close()
	n := newNotifier([]config.AlertRule{{Name: "busy", Metric: "cpu_percent", Severity: "warning",
		Actions: []config.AlertAction{{Webhook: recv.URL}}}}, io.Discard)
	n.dashboard = "http://127.0.0.1:8080/"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.run(ctx) }()
	defer func() { cancel(); <-done }()
	t0 := time.Unix(1_800_000_000, 0)
	n.notify([]Alert{{Rule: "busy", Severity: "warning", Metric: "cpu_percent", Value: 93, Threshold: 80, Since: t0,
		State: "firing", Changed: true, Message: "cpu_percent is 93.00 > 80 for 30s"}}, t0.Add(30*time.Second))
	n.notify([]Alert{{Rule: "busy", State: "firing", Changed: false}}, t0.Add(31*time.Second)) // no change: nothing sent
	n.notify([]Alert{{Rule: "busy", Severity: "warning", Metric: "cpu_percent", Value: 20, Threshold: 80, Since: t0.Add(40 * time.Second),
		State: "resolved", Changed: true, Message: "cpu_percent back to 20.00"}}, t0.Add(40*time.Second))
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("the receiver got %d payloads, want the firing and the resolved one", len(got))
	}
	f, r := got[0], got[1]
	if f.Version != "4" || f.Status != "firing" || len(f.Alerts) != 1 || f.Alerts[0].Labels["alertname"] != "busy" ||
		f.Alerts[0].Labels["severity"] != "warning" || !f.Alerts[0].StartsAt.Equal(t0) || !f.Alerts[0].EndsAt.IsZero() ||
		f.Alerts[0].Annotations["summary"] == "" || f.ExternalURL != "http://127.0.0.1:8080/" {
		t.Errorf("firing payload %+v", f)
	}
	if r.Status != "resolved" || r.Alerts[0].EndsAt.IsZero() || r.Alerts[0].Fingerprint != f.Alerts[0].Fingerprint {
		t.Errorf("resolved payload %+v: want resolved, with an end, the same fingerprint", r)
	}
	if calls.Load() != 3 {
		t.Errorf("%d requests, want 3 (one failed and retried)", calls.Load())
	}
}

// TestAlertCommandGetsTheAlertOnStdin, and a command that fails is
// reported as a failure (logged, kept for the dashboard).
func TestAlertCommandGetsTheAlertOnStdin(t *testing.T) {
	out := filepath.Join(t.TempDir(), "alert.json")
	var log strings.Builder
	var logMu sync.Mutex
	n := newNotifier([]config.AlertRule{
		{Name: "ok", Actions: []config.AlertAction{{Command: []string{"sh", "-c", "cat > " + out}}}},
		{Name: "broken", Actions: []config.AlertAction{{Command: []string{"sh", "-c", "echo no route to pager >&2; exit 3"}, Timeout: time.Second}}},
	}, writerFunc(func(p []byte) (int, error) { logMu.Lock(); defer logMu.Unlock(); return log.Write(p) }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.run(ctx) }()
	defer func() { cancel(); <-done }()
	now := time.Now()
	n.notify([]Alert{{Rule: "ok", State: "firing", Changed: true, Since: now}, {Rule: "broken", State: "firing", Changed: true, Since: now}}, now)
	deadline := time.Now().Add(20 * time.Second)
	for len(n.recentFailures()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	b, err := os.ReadFile(out)
	var p amPayload
	if err != nil || json.Unmarshal(b, &p) != nil || p.Alerts[0].Labels["alertname"] != "ok" {
		t.Errorf("the command wrote %q (%v), want the alert's JSON", b, err)
	}
	f := n.recentFailures()
	if len(f) != 1 || !strings.Contains(f[0], "alert broken firing: command sh -c") || !strings.Contains(f[0], "failed 3 times") || !strings.Contains(f[0], "no route to pager") {
		t.Errorf("failures %q: want the broken command, its attempts and its error", f)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(log.String(), "alert broken firing") {
		t.Errorf("the failure was not logged: %q", log.String())
	}
}

// TestSlowReceiverNeverBlocksTheCollector: with a receiver that never
// answers, notify returns at once however many changes come.
func TestSlowReceiverNeverBlocksTheCollector(t *testing.T) {
	hang := make(chan struct{})
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer recv.Close()
	defer close(hang)
	n := newNotifier([]config.AlertRule{{Name: "x", Actions: []config.AlertAction{{Webhook: recv.URL, Timeout: 50 * time.Millisecond}}}}, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < 10*queueLen; i++ {
		n.notify([]Alert{{Rule: "x", State: "firing", Changed: true}}, time.Now()) // would block on a full queue
	}
	if f := n.recentFailures(); len(f) == 0 || !strings.Contains(f[len(f)-1], "not delivered") {
		t.Errorf("failures %q: want the changes that did not fit in the queue", f)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
