// Asking members what the target profile says to ask: are they formed,
// who leads, how far has each come. Every driver observes its cluster
// through one caller, paced below the target's rate limit.

package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/jsonpath"
	"github.com/odbench/odbench/internal/target"
	"golang.org/x/time/rate"
)

// errPacedOut: the rate limit leaves no time for the request before ctx
// ends. It says nothing about the target, so waits report the answers
// seen before it instead.
var errPacedOut = errors.New("no time left for another request within the target's rate limit")

// caller sends a profile's requests to members. With a rate limit it
// paces odbench's own requests (readiness, status, probes) to each member
// within their share of it (target.OwnShare), so that the target's
// answers, not odbench's 429s, explain what odbench saw.
type caller struct {
	client *http.Client
	perSec float64 // the target's limit per member; 0: none

	mu     sync.Mutex
	limits map[string]*rate.Limiter // by member base URL
}

// newCaller returns a caller paced within perSec requests per second per
// member (0: not paced).
func newCaller(perSec float64) *caller {
	return &caller{client: &http.Client{Timeout: 5 * time.Second}, perSec: perSec, limits: map[string]*rate.Limiter{}}
}

// wait paces a request to the member at base.
func (c *caller) wait(ctx context.Context, base string) error {
	if c.perSec <= 0 {
		return nil
	}
	c.mu.Lock()
	l := c.limits[base]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(c.perSec*target.OwnShare), 1)
		c.limits[base] = l
	}
	c.mu.Unlock()
	if err := l.Wait(ctx); err != nil {
		return fmt.Errorf("%w (%v)", errPacedOut, err)
	}
	return nil
}

// do sends r, rendered for the member at base, and reads the answer (at
// most 1 MiB of it).
func (c *caller) do(ctx context.Context, r *target.Request, base string, v target.Vars) (*target.Answer, error) {
	if err := c.wait(ctx, base); err != nil {
		return nil, err
	}
	call, err := r.Render(base, v)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, call.Method, call.URL, bytes.NewReader(call.Body))
	if err != nil {
		return nil, err
	}
	for k, v := range call.Headers {
		req.Header.Set(k, v)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	return &target.Answer{Code: resp.StatusCode, Header: resp.Header.Get, Body: body}, nil
}

// MemberStatus is what a member says of the cluster, through the
// profile's status request.
type MemberStatus struct {
	Node Node
	// ID is the member's own ID as the system names it; Leader the
	// leader's ("" when it knows none).
	ID, Leader string
	// Term, Commit and Applied are its Raft term and indexes; each Has
	// says whether the profile reads it.
	Term, Commit, Applied          uint64
	HasTerm, HasCommit, HasApplied bool
}

// Observer reads members' views of the cluster through the target
// profile's status request.
type Observer interface {
	// Status asks one member.
	Status(ctx context.Context, n Node) (MemberStatus, error)
	// Leader returns the member that the members answering name as the
	// leader, or an error saying who named none or disagreed.
	Leader(ctx context.Context) (Node, error)
}

// observer implements Observer and Healther for a profile with a status
// section, over a cluster's nodes.
type observer struct {
	profile *target.Profile
	caller  *caller
	nodes   func() []Node // the members up now
}

// NewObserver reads the views of the members nodes returns, through
// profile p's status request (without one, every answer is ErrNoStatus);
// for clusters odbench neither starts nor reaches through External.
func NewObserver(p *target.Profile, nodes func() []Node) Observer {
	return &observer{profile: p, caller: newCaller(0), nodes: nodes}
}

func (o *observer) Status(ctx context.Context, n Node) (MemberStatus, error) {
	st := o.profile.Status
	if st == nil {
		return MemberStatus{}, ErrNoStatus
	}
	a, err := o.caller.do(ctx, &st.Request, n.API, target.Vars{Member: n.ID})
	if err != nil {
		return MemberStatus{}, fmt.Errorf("%s: %s: %w", n.ID, st.Describe(), err)
	}
	if a.Code/100 != 2 {
		return MemberStatus{}, fmt.Errorf("%s: %s answered HTTP %d: %s", n.ID, st.Describe(), a.Code, clipLine(string(a.Body)))
	}
	ms := MemberStatus{Node: n}
	text := func(path string) (string, bool) {
		v, ok := jsonpath.Lookup(a.JSON(), path)
		return target.TextOf(v), ok
	}
	ms.ID, _ = text(st.ID)
	if leader, ok := text(st.Leader); ok && !noLeader(leader, st.NoLeader) {
		ms.Leader = leader
	}
	num := func(path string) (uint64, bool) {
		if path == "" {
			return 0, false
		}
		s, ok := text(path)
		v, err := strconv.ParseUint(s, 10, 64)
		return v, ok && err == nil
	}
	ms.Term, ms.HasTerm = num(st.Term)
	ms.Commit, ms.HasCommit = num(st.CommitIndex)
	ms.Applied, ms.HasApplied = num(st.AppliedIndex)
	return ms, nil
}

func noLeader(v string, none []string) bool {
	if v == "" {
		return true
	}
	for _, n := range none {
		if v == n {
			return true
		}
	}
	return false
}

// statuses asks every member up, in order.
func (o *observer) statuses(ctx context.Context) ([]MemberStatus, error) {
	var out []MemberStatus
	for _, n := range o.nodes() {
		st, err := o.Status(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func (o *observer) Leader(ctx context.Context) (Node, error) {
	sts, err := o.statuses(ctx)
	if err != nil {
		return Node{}, err
	}
	leader, err := agreedLeader(sts)
	if err != nil {
		return Node{}, err
	}
	for _, st := range sts {
		if st.ID == leader {
			return st.Node, nil
		}
	}
	return Node{}, fmt.Errorf("the members name %q as their leader, which is none of them (%s)", leader, idsOf(sts))
}

// agreedLeader returns the leader every member names.
func agreedLeader(sts []MemberStatus) (string, error) {
	leader := ""
	for _, st := range sts {
		switch {
		case st.Leader == "":
			return "", fmt.Errorf("%s knows no leader", st.Node.ID)
		case leader != "" && st.Leader != leader:
			return "", fmt.Errorf("%s follows %q, another member %q", st.Node.ID, st.Leader, leader)
		}
		leader = st.Leader
	}
	if leader == "" {
		return "", errors.New("no member answers")
	}
	return leader, nil
}

func idsOf(sts []MemberStatus) string {
	var ids []string
	for _, st := range sts {
		ids = append(ids, st.Node.ID+"="+st.ID)
	}
	return strings.Join(ids, ", ")
}

// Healthy: one leader every member follows, and, where the profile reads
// the indexes, every member applied as far as the leader had committed
// when asked first.
func (o *observer) Healthy(ctx context.Context) error {
	sts, err := o.statuses(ctx)
	if err != nil {
		return err
	}
	leader, err := agreedLeader(sts)
	if err != nil {
		return err
	}
	var commit uint64
	var known bool
	for _, st := range sts {
		if st.ID == leader && st.HasCommit {
			commit, known = st.Commit, true
		}
	}
	if !known {
		return nil
	}
	for _, n := range o.nodes() {
		st, err := o.Status(ctx, n)
		if err != nil {
			return err
		}
		if st.HasApplied && st.Applied < commit {
			return fmt.Errorf("member %s has applied index %d, behind the leader's commit index %d", n.ID, st.Applied, commit)
		}
	}
	return nil
}

// readyVars are what a readiness condition's count template can use.
type readyVars struct {
	Size, Others int
}

// awaitFormed polls formed until it holds or ctx ends, and then says what
// the members answered last.
func awaitFormed(ctx context.Context, p *target.Profile, c *caller, nodes func() []Node, size int) error {
	if len(p.Ready) == 0 && p.Status == nil {
		return nil
	}
	err := pollUntil(ctx, 200*time.Millisecond, nil, func() error { return formed(ctx, p, c, nodes(), size) })
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w within the start timeout: %s", ErrStart, ErrNotFormed, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// formed checks the profile's ready conditions on every member, then that
// they agree on a leader; it returns what each failing member said. A
// request several conditions share is sent once a round.
func formed(ctx context.Context, p *target.Profile, c *caller, nodes []Node, size int) error {
	var errs []error
	for _, n := range nodes {
		answers := map[string]answer{}
		var problems []string
		for i := range p.Ready {
			msg, err := checkCondition(ctx, &p.Ready[i], c, n, size, answers)
			if errors.Is(err, errPacedOut) {
				return err // a round cut short says nothing of the target
			}
			if msg != "" && !slices.Contains(problems, msg) {
				problems = append(problems, msg)
			}
		}
		if len(problems) > 0 {
			errs = append(errs, fmt.Errorf("%s %s", n.ID, strings.Join(problems, ", ")))
		}
	}
	if len(errs) == 0 && p.Status != nil {
		o := &observer{profile: p, caller: c, nodes: func() []Node { return nodes }}
		sts, err := o.statuses(ctx)
		if err == nil {
			_, err = agreedLeader(sts)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// answer is a member's answer to one request, or why there is none.
type answer struct {
	a   *target.Answer
	err error
}

// checkCondition returns what is wrong with one member's answer, or "",
// and the error of a request that got no answer. A request that several
// conditions share is sent once (answers holds it).
func checkCondition(ctx context.Context, cond *target.Condition, c *caller, n Node, size int, answers map[string]answer) (string, error) {
	key := cond.Method + " " + cond.Path + " " + cond.Body
	got, seen := answers[key]
	if !seen {
		got.a, got.err = c.do(ctx, &cond.Request, n.API, target.Vars{Member: n.ID, Size: size})
		answers[key] = got
	}
	if got.err != nil {
		return fmt.Sprintf("does not answer %s (%v)", cond.Describe(), got.err), got.err
	}
	return judgeCondition(cond, got.a, size), nil
}

// judgeCondition returns what is wrong with answer a to cond, or "".
func judgeCondition(cond *target.Condition, a *target.Answer, size int) string {
	if a.Code/100 != 2 {
		return fmt.Sprintf("answers %s with HTTP %d (%s)", cond.Describe(), a.Code, clipLine(string(a.Body)))
	}
	if a.JSON() == nil {
		return fmt.Sprintf("answers %s with something that is not JSON (%.80q)", cond.Describe(), a.Body)
	}
	val, ok := jsonpath.Lookup(a.JSON(), cond.JSON)
	switch {
	case cond.CountAtLeast != "":
		t, err := target.ParseTemplate("count_at_least", cond.CountAtLeast)
		if err != nil {
			return err.Error()
		}
		text, err := t.Render(readyVars{Size: size, Others: size - 1})
		if err != nil {
			return "count_at_least: " + err.Error()
		}
		want, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil {
			return fmt.Sprintf("count_at_least %q is not a number", text)
		}
		if !ok {
			return fmt.Sprintf("has no %s in its answer to %s (%s)", cond.JSON, cond.Describe(), clipLine(string(a.Body)))
		}
		got, isCount := target.Count(val)
		if !isCount {
			return fmt.Sprintf("reports %s %s, which has no count", cond.JSON, target.TextOf(val))
		}
		if got < want {
			return fmt.Sprintf("reports %g %s (want at least %g)", got, cond.JSON, want)
		}
	case cond.Equals != nil && (!ok || target.TextOf(val) != *cond.Equals):
		return fmt.Sprintf("reports %s %q (want %q)", cond.JSON, target.TextOf(val), *cond.Equals)
	case cond.NotEquals != nil && (!ok || target.TextOf(val) == *cond.NotEquals):
		return fmt.Sprintf("reports %s %q (want anything else)", cond.JSON, target.TextOf(val))
	}
	return ""
}
