package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/odbench/odbench/internal/jsonpath"
)

// ErrNotFormed: the nodes answer, but what they say does not meet
// cluster.ready (no leader, too few peers). Errors wrapping it wrap
// ErrStart too; the driver returns the running cluster beside it, so a
// caller may still measure it (--allow-unformed) or must stop it.
var ErrNotFormed = errors.New("the cluster did not form")

// ReadySpec is one condition every node's answer must meet before the
// cluster counts as formed: the JSON at URL (a template over .APIURL, the
// node's API base URL, .Size and .Others, the count of other nodes), at
// the dotted Path ("peers", "leader.id", "nodes.0.state"), compared by
// exactly one of CountAtLeast (a template: the length of an array or
// object, or a number, at least this), Equals or NotEquals (the value
// printed as text).
type ReadySpec struct {
	URL          string
	Path         string
	CountAtLeast string
	Equals       *string
	NotEquals    *string
}

// readyVars are the template variables of a readiness URL and count: the
// node's API base URL, the cluster size, and the number of other nodes
// (what a node that does not count itself should list as peers).
type readyVars struct {
	APIURL string
	Size   int
	Others int
}

type readyCheck struct {
	spec  ReadySpec
	url   *template.Template
	count *template.Template
}

// ReadyChecks are compiled readiness conditions.
type ReadyChecks struct{ checks []readyCheck }

// NewReadyChecks compiles specs, reporting every problem: a template that
// does not parse, an empty path, not exactly one comparison.
func NewReadyChecks(specs []ReadySpec) (*ReadyChecks, error) {
	var errs []error
	out := &ReadyChecks{}
	for i, s := range specs {
		field := fmt.Sprintf("cluster.ready[%d]", i)
		c := readyCheck{spec: s}
		var err error
		if c.url, err = template.New("url").Option("missingkey=error").Parse(s.URL); err != nil || s.URL == "" {
			errs = append(errs, fmt.Errorf("%s.url: must be a URL template over .APIURL and .Size, but is %q (%v)", field, s.URL, err))
		}
		if strings.Trim(s.Path, ".") == "" {
			errs = append(errs, fmt.Errorf("%s.path: must name a field of the answer (dotted: leader.id, peers.0), but is %q", field, s.Path))
		}
		n := 0
		if s.CountAtLeast != "" {
			n++
			if c.count, err = template.New("count").Option("missingkey=error").Parse(s.CountAtLeast); err != nil {
				errs = append(errs, fmt.Errorf("%s.count_at_least: %v", field, err))
			}
		}
		if s.Equals != nil {
			n++
		}
		if s.NotEquals != nil {
			n++
		}
		if n != 1 {
			errs = append(errs, fmt.Errorf("%s: give exactly one of count_at_least, equals, not_equals (got %d)", field, n))
		}
		out.checks = append(out.checks, c)
	}
	return out, errors.Join(errs...)
}

// Len is the number of conditions.
func (r *ReadyChecks) Len() int {
	if r == nil {
		return 0
	}
	return len(r.checks)
}

// Check asks every node and returns nil when every condition holds on
// every node, else one error listing what each failing node said.
func (r *ReadyChecks) Check(ctx context.Context, client *http.Client, nodes []Node, size int) error {
	var errs []error
	for _, n := range nodes {
		var problems []string
		for _, c := range r.checks {
			if msg := c.check(ctx, client, readyVars{APIURL: n.API, Size: size, Others: size - 1}); msg != "" {
				problems = append(problems, msg)
			}
		}
		if len(problems) > 0 {
			errs = append(errs, fmt.Errorf("%s %s", n.ID, strings.Join(problems, ", ")))
		}
	}
	return errors.Join(errs...)
}

// check returns what is wrong with one node's answer, or "".
func (c readyCheck) check(ctx context.Context, client *http.Client, v readyVars) string {
	var b bytes.Buffer
	if err := c.url.Execute(&b, v); err != nil {
		return "url: " + err.Error()
	}
	url := b.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Sprintf("does not answer GET %s (%v)", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Sprintf("answers GET %s with %s", url, resp.Status)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Sprintf("answers GET %s with something that is not JSON (%.80q)", url, body)
	}
	val, ok := jsonpath.Lookup(doc, c.spec.Path)
	if !ok {
		return fmt.Sprintf("has no field %q in its answer to GET %s (%s)", c.spec.Path, url, clipLine(string(body)))
	}
	switch {
	case c.count != nil:
		var nb bytes.Buffer
		if err := c.count.Execute(&nb, v); err != nil {
			return "count_at_least: " + err.Error()
		}
		want, err := strconv.ParseFloat(strings.TrimSpace(nb.String()), 64)
		if err != nil {
			return fmt.Sprintf("count_at_least %q is not a number", nb.String())
		}
		got, ok := count(val)
		if !ok {
			return fmt.Sprintf("reports %s %s, which has no count", c.spec.Path, text(val))
		}
		if got < want {
			return fmt.Sprintf("reports %g %s (want at least %g)", got, c.spec.Path, want)
		}
	case c.spec.Equals != nil && text(val) != *c.spec.Equals:
		return fmt.Sprintf("reports %s %q (want %q)", c.spec.Path, text(val), *c.spec.Equals)
	case c.spec.NotEquals != nil && text(val) == *c.spec.NotEquals:
		return fmt.Sprintf("reports %s %q (want anything else)", c.spec.Path, text(val))
	}
	return ""
}

// count is the length of an array or object, or a number's value.
func count(v any) (float64, bool) {
	switch x := v.(type) {
	case []any:
		return float64(len(x)), true
	case map[string]any:
		return float64(len(x)), true
	case float64:
		return x, true
	}
	return 0, false
}

// text prints a JSON value as a condition compares it: strings as they
// are, null as "", the rest as JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "{" + strings.Join(keys, ",") + "}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// waitFormed polls until checks hold on every node of c or ctx ends; then
// it returns an error wrapping ErrStart and ErrNotFormed with the last
// answers seen ("... did not form ...: n1 reports leader_id "" ...").
func waitFormed(ctx context.Context, checks *ReadyChecks, client *http.Client, c Cluster, size int) error {
	if checks.Len() == 0 {
		return nil
	}
	err := pollUntil(ctx, 200*time.Millisecond, nil, func() error { return checks.Check(ctx, client, c.Nodes(), size) })
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w within the start timeout: %s", ErrStart, ErrNotFormed, strings.ReplaceAll(err.Error(), "\n", "; "))
}
