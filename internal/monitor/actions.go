package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/odbench/odbench/internal/config"
)

// Delivery of an alert action: attempts, the wait before the second (it
// doubles), and the bound of one attempt when the action sets none.
const (
	actionAttempts = 3
	actionBackoff  = time.Second
	actionTimeout  = 5 * time.Second
	queueLen       = 64
	failuresKept   = 20
)

// amPayload is Alertmanager's webhook payload (version 4), what its
// receivers (and the Slack and PagerDuty bridges built for them) read.
type amPayload struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// payloadOf renders an alert change in Alertmanager's format. The
// dashboard's address is the external and generator URL.
func payloadOf(a Alert, at time.Time, dashboard string) amPayload {
	labels := map[string]string{"alertname": a.Rule, "severity": a.Severity, "metric": a.Metric, "source": "odbench-monitor"}
	annotations := map[string]string{"summary": a.Message,
		"value": fmt.Sprintf("%g", a.Value), "threshold": fmt.Sprintf("%g", a.Threshold)}
	h := fnv.New64a()
	_, _ = h.Write([]byte(a.Rule))
	alert := amAlert{Status: a.State, Labels: labels, Annotations: annotations, StartsAt: a.Since.UTC(),
		GeneratorURL: dashboard, Fingerprint: fmt.Sprintf("%016x", h.Sum64())}
	if a.State == "resolved" {
		alert.EndsAt = a.Ended.UTC()
		if a.Ended.IsZero() {
			alert.EndsAt = at.UTC()
		}
	}
	return amPayload{Version: "4", GroupKey: `{}:{alertname="` + a.Rule + `"}`, Status: a.State, Receiver: "odbench",
		GroupLabels: map[string]string{"alertname": a.Rule}, CommonLabels: labels, CommonAnnotations: annotations,
		ExternalURL: dashboard, Alerts: []amAlert{alert}}
}

// notifier delivers alert changes to their rules' actions in the
// background. The collector only enqueues (a full queue drops the change
// and says so): a slow or dead receiver never slows the monitor.
type notifier struct {
	actions   map[string][]config.AlertAction // by rule
	queue     chan notification
	client    *http.Client
	log       io.Writer
	dashboard string

	mu       sync.Mutex
	failures []string // the latest, newest last
}

type notification struct {
	alert Alert
	at    time.Time
}

func newNotifier(rules []config.AlertRule, log io.Writer) *notifier {
	n := &notifier{actions: map[string][]config.AlertAction{}, queue: make(chan notification, queueLen),
		client: &http.Client{}, log: log}
	for _, r := range rules {
		if len(r.Actions) > 0 {
			n.actions[r.Name] = r.Actions
		}
	}
	return n
}

// notify enqueues the alerts that changed and have actions.
func (n *notifier) notify(alerts []Alert, at time.Time) {
	for _, a := range alerts {
		if !a.Changed || len(n.actions[a.Rule]) == 0 {
			continue
		}
		select {
		case n.queue <- notification{a, at}:
		default:
			n.fail(fmt.Sprintf("alert %s %s: not delivered, %d changes were already waiting", a.Rule, a.State, queueLen))
		}
	}
}

// run delivers until ctx ends.
func (n *notifier) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case no := <-n.queue:
			body, _ := json.Marshal(payloadOf(no.alert, no.at, n.dashboard))
			for _, act := range n.actions[no.alert.Rule] {
				if err := n.deliver(ctx, act, body); err != nil && ctx.Err() == nil {
					n.fail(fmt.Sprintf("alert %s %s: %s failed %d times: %v", no.alert.Rule, no.alert.State, describeAction(act), actionAttempts, err))
				}
			}
		}
	}
}

// deliver makes up to actionAttempts attempts, waiting actionBackoff,
// then twice that, between them.
func (n *notifier) deliver(ctx context.Context, act config.AlertAction, body []byte) error {
	timeout := act.Timeout
	if timeout <= 0 {
		timeout = actionTimeout
	}
	var err error
	wait := actionBackoff
	for attempt := 1; attempt <= actionAttempts; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		if act.Webhook != "" {
			err = n.post(actx, act.Webhook, body)
		} else {
			err = runCommand(actx, act.Command, body)
		}
		cancel()
		if err == nil || attempt == actionAttempts {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
	return err
}

func (n *notifier) post(ctx context.Context, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}

// runCommand runs argv with body on its standard input, in its own
// process group, killed whole when ctx ends.
func runCommand(ctx context.Context, argv []string, body []byte) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%v: %s", err, lastLine(msg))
		}
		return err
	}
	return nil
}

func lastLine(s string) string {
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func describeAction(a config.AlertAction) string {
	if a.Webhook != "" {
		return "webhook " + a.Webhook
	}
	return "command " + strings.Join(a.Command, " ")
}

// fail logs a failed delivery and keeps it for the dashboard.
func (n *notifier) fail(msg string) {
	fmt.Fprintf(n.log, "odbench monitor: %s\n", msg)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failures = append(n.failures, time.Now().UTC().Format(time.TimeOnly)+" "+msg)
	if len(n.failures) > failuresKept {
		n.failures = n.failures[len(n.failures)-failuresKept:]
	}
}

// recentFailures returns the latest failed deliveries, oldest first.
func (n *notifier) recentFailures() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.failures...)
}
