package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/jsonpath"
	"github.com/odbench/odbench/internal/load"
)

// customScenarios are the scenarios declared in scenarios.custom: a closed
// loop at each client count (custom/NAME/clients=N), an open loop at a rate
// (custom/NAME/rate=R) or a step ramp (custom/NAME/step).
func customScenarios(cfg *config.Config) []Spec {
	var out []Spec
	for _, cs := range cfg.Scenarios.Custom {
		params := map[string]string{"custom": cs.Name}
		switch cs.Load.Mode {
		case "open":
			rate := strconv.FormatFloat(cs.Load.Rate, 'f', -1, 64)
			out = append(out, Spec{Name: "custom/" + cs.Name + "/rate=" + rate, Params: withParam(params, "rate_per_s", rate),
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runCustom(ctx, env, c, cs, 0) }})
		case "step":
			out = append(out, Spec{Name: "custom/" + cs.Name + "/step", Params: params,
				Length: func(*config.Config) time.Duration {
					return cfg.Execution.WarmupDuration + time.Duration(cs.Load.MaxSteps)*cs.Load.StepDuration
				},
				Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runCustom(ctx, env, c, cs, 0) }})
		default:
			levels := cs.Load.Clients
			if len(levels) == 0 {
				levels = cfg.System.ConcurrencyLevels
			}
			for _, n := range levels {
				out = append(out, Spec{Name: fmt.Sprintf("custom/%s/clients=%d", cs.Name, n), Params: withParam(params, "clients", itoa(n)),
					Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runCustom(ctx, env, c, cs, n) }})
			}
		}
	}
	return out
}

func withParam(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for a, b := range m {
		out[a] = b
	}
	return out
}

// customRequest is a CustomRequest with its templates parsed.
type customRequest struct {
	config.CustomRequest
	path, body *template.Template
	headers    map[string]*template.Template
}

func compileRequest(r config.CustomRequest) (*customRequest, error) {
	out := &customRequest{CustomRequest: r, headers: map[string]*template.Template{}}
	var err error
	if out.path, err = config.ParseTemplate("path", r.Path); err != nil {
		return nil, err
	}
	if out.body, err = config.ParseTemplate("body", r.Body); err != nil {
		return nil, err
	}
	for h, v := range r.Headers {
		if out.headers[h], err = config.ParseTemplate("header "+h, v); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errCheck is an answer that came back but failed an expectation.
type errCheck struct {
	kind, msg string
}

func (e *errCheck) Error() string { return e.msg }
func (e *errCheck) Kind() string  { return e.kind }

// send renders r with v and sends it to base, and checks the answer.
func (r *customRequest) send(ctx context.Context, client *http.Client, base string, v config.CustomVars) error {
	var path, body bytes.Buffer
	if err := r.path.Execute(&path, v); err != nil {
		return &errCheck{"template", err.Error()}
	}
	if err := r.body.Execute(&body, v); err != nil {
		return &errCheck{"template", err.Error()}
	}
	var rd io.Reader
	if body.Len() > 0 {
		rd = &body
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, base+path.String(), rd)
	if err != nil {
		return err
	}
	for h, t := range r.headers {
		var val bytes.Buffer
		if err := t.Execute(&val, v); err != nil {
			return &errCheck{"template", err.Error()}
		}
		req.Header.Set(h, val.String())
	}
	if len(r.ExpectStatus) == 0 {
		return load.Do(client, req, r.check)
	}
	// The listed codes decide, not load.Do's any-2xx rule: a read of a
	// key not yet written may expect 404.
	return load.Exchange(client, req, func(resp *http.Response) error {
		if !slices.Contains(r.ExpectStatus, resp.StatusCode) && (resp.StatusCode < 200 || resp.StatusCode > 299) {
			// An answer outside the list that is an HTTP failure keeps its
			// kind (http_503, rate_limited) as load.Do would give it.
			return load.StatusOf(resp)
		}
		return r.check(resp)
	})
}

// check judges an answer: its status (ExpectStatus, or any 2xx, which
// load.Do already required when none is given) and its JSON conditions.
func (r *customRequest) check(resp *http.Response) error {
	if len(r.ExpectStatus) > 0 && !slices.Contains(r.ExpectStatus, resp.StatusCode) {
		return &errCheck{"unexpected_http_" + itoa(resp.StatusCode), fmt.Sprintf("answered %s, expected %v", resp.Status, r.ExpectStatus)}
	}
	if len(r.ExpectJSON) == 0 {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	var doc any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&doc); err != nil {
		return &errCheck{"check_failed", "the answer is not JSON: " + err.Error()}
	}
	for _, c := range r.ExpectJSON {
		v, ok := jsonpath.Lookup(doc, c.Path)
		text := fmt.Sprint(v)
		switch {
		case c.Exists && !ok:
			return &errCheck{"check_failed", c.Path + " is absent"}
		case c.Equals != nil && (!ok || text != *c.Equals):
			return &errCheck{"check_failed", fmt.Sprintf("%s is %q, want %q", c.Path, text, *c.Equals)}
		case c.NotEquals != nil && ok && text == *c.NotEquals:
			return &errCheck{"check_failed", fmt.Sprintf("%s is %q", c.Path, text)}
		}
	}
	return nil
}

// runCustom runs a declared scenario: setup, the load (clients > 0: a
// closed loop of that many clients), cleanup.
func runCustom(ctx context.Context, env *Env, c cluster.Cluster, cs config.CustomScenario, clients int) error {
	var rows []map[string]string
	if cs.Data != "" {
		var err error
		if rows, err = config.LoadData(cs.Data); err != nil {
			return err
		}
	}
	nodes := c.Nodes()
	switch cs.Nodes {
	case "first":
		nodes = nodes[:1]
	case "leader":
		leader, err := leaderOf(ctx, c)
		if errors.Is(err, ErrUnsupported) {
			return Skip("nodes: leader: the %s profile cannot tell who leads (no status section)", env.Target.Name)
		}
		if err != nil {
			return fmt.Errorf("nodes: leader: %w", err)
		}
		nodes = []cluster.Node{leader}
	}
	keys := newKeySpace(env, max(cs.Keys, 1))
	if cs.Keys == 0 {
		keys = newKeySpace(env, 1000)
	}
	conns := max(clients, env.Config.API.MaxInFlight)
	client := env.Client(conns)
	defer client.CloseIdleConnections()
	var seq atomic.Uint64
	vars := func(ctx context.Context, node cluster.Node) config.CustomVars {
		n := seq.Add(1) - 1
		w, _ := load.Worker(ctx)
		v := config.CustomVars{Seq: n, Worker: w, Node: node.ID, Key: keys.key(rand.IntN(keys.size))}
		if len(rows) > 0 {
			v.Data = rows[n%uint64(len(rows))]
		}
		return v
	}
	once := func(what string, reqs []config.CustomRequest) error {
		for i, r := range reqs {
			cr, err := compileRequest(r)
			if err == nil {
				err = cr.send(ctx, client, nodes[0].API, vars(ctx, nodes[0]))
			}
			if err != nil {
				return fmt.Errorf("%s[%d] %s %s: %w", what, i, r.Method, r.Path, err)
			}
		}
		return nil
	}
	if err := once("setup", cs.Setup); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		ctx := cctx
		for i, r := range cs.Cleanup {
			cr, err := compileRequest(r)
			if err == nil {
				err = cr.send(ctx, client, nodes[0].API, vars(ctx, nodes[0]))
			}
			if err != nil {
				env.Warn("cleanup[%d] %s %s: %v", i, r.Method, r.Path, err)
			}
		}
	}()
	var ops []load.Operation
	var next atomic.Uint64
	for _, o := range cs.Operations {
		cr, err := compileRequest(o.CustomRequest)
		if err != nil {
			return fmt.Errorf("operation %s: %w", o.Name, err)
		}
		ops = append(ops, load.Operation{Name: o.Name, Weight: max(o.Weight, 1), Do: func(ctx context.Context) error {
			node := nodes[int(next.Add(1)-1)%len(nodes)]
			return cr.send(ctx, client, node.API, vars(ctx, node))
		}})
	}
	l := cs.Load
	poisson := env.Config.API.Arrival == "poisson"
	if l.Arrival != "" {
		poisson = l.Arrival == "poisson"
	}
	switch l.Mode {
	case "open":
		_, err := env.OpenArrivals(ctx, l.Rate, poisson, env.Config.API.MaxInFlight, ops...)
		return err
	case "step":
		return env.Ramp(ctx, load.Step{StartRate: l.StartRate, Increment: l.Increment, StepDuration: l.StepDuration, MaxSteps: l.MaxSteps,
			MaxErrorRate: 0.01, MaxP99: env.Config.Targets.LatencyP99, MaxInFlight: env.Config.API.MaxInFlight, Poisson: poisson}, ops...)
	}
	_, err := env.Closed(ctx, clients, ops...)
	return err
}
