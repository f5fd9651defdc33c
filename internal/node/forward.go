// Writes sent to a follower go to the leader: commands through
// /api/v1/internal/apply, other requests relayed as they are. A follower
// that knows no leader answers 503; one whose leader does not answer in
// time answers 504, one whose leader cannot be reached or answers
// garbage 502, each naming the leader. A failed write that certainly did
// not reach the Raft log says so with "X-Not-Applied: true".

package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/hashicorp/raft"
)

// leaderError is a forwarded request the leader did not answer: Code is
// 504 when it did not answer within the forward timeout, 502 when it
// could not be reached or answered something undecodable. NotSent: the
// connection to it could not even be opened.
type leaderError struct {
	ID, API string
	Code    int
	Err     error
	NotSent bool
}

func (e *leaderError) Error() string {
	what := "could not be reached"
	if e.Code == http.StatusGatewayTimeout {
		what = "did not answer in time"
	}
	return fmt.Sprintf("leader %s (%s) %s: %v", e.ID, e.API, what, e.Err)
}

func (e *leaderError) Unwrap() error { return e.Err }

// upstreamStatus is a forwarded request the leader answered with an
// error status, passed on as it is.
type upstreamStatus struct {
	Code int
	Msg  string
}

func (e *upstreamStatus) Error() string {
	return fmt.Sprintf("the leader answered HTTP %d: %s", e.Code, e.Msg)
}

// leaderErr classifies a failed forward to the leader id at api.
func leaderErr(id, api string, err error) error {
	code := http.StatusBadGateway
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		code = http.StatusGatewayTimeout
	}
	var oe *net.OpError
	notSent := errors.As(err, &oe) && oe.Op == "dial"
	return &leaderError{ID: id, API: api, Code: code, Err: err, NotSent: notSent}
}

// certainlyNotApplied reports whether a failed write never reached the
// Raft log.
func certainlyNotApplied(err error) bool {
	var le *leaderError
	return errors.Is(err, errNotApplied) || (errors.As(err, &le) && le.NotSent)
}

// writeApplyErr answers a failed write.
func writeApplyErr(w http.ResponseWriter, err error) {
	var le *leaderError
	var us *upstreamStatus
	if certainlyNotApplied(err) {
		w.Header().Set("X-Not-Applied", "true")
	}
	switch {
	case errors.Is(err, errNoLeader):
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "no raft leader; retry shortly")
	case errors.Is(err, ErrCASConflict):
		writeErr(w, http.StatusConflict, "%v", err)
	case errors.Is(err, errBadCommand):
		writeErr(w, http.StatusBadRequest, "%v", err)
	case errors.Is(err, errUnknownNode):
		writeErr(w, http.StatusNotFound, "%v", err)
	case errors.As(err, &le):
		writeErr(w, le.Code, "%v", le)
	case errors.As(err, &us):
		writeErr(w, us.Code, "%v", us)
	default:
		writeErr(w, http.StatusInternalServerError, "%v", err)
	}
}

// apply commits cmd through Raft: on the leader directly, elsewhere by
// forwarding the command to the leader's API, bounded by the forward
// timeout so that a stalled leader is told apart from a missing one.
func (n *Node) apply(ctx context.Context, cmd Command) (ApplyResult, error) {
	if err := cmd.validate(); err != nil {
		return ApplyResult{}, err
	}
	data, err := encodeCommand(cmd)
	if err != nil {
		return ApplyResult{}, err
	}
	return n.applyData(ctx, data)
}

// applyData commits a valid command already in its log encoding. It
// travels to the leader as it will be stored: the leader appends these
// bytes without decoding and encoding them again.
func (n *Node) applyData(ctx context.Context, body []byte) (ApplyResult, error) {
	if n.isLeader() {
		return n.applyEncoded(body)
	}
	id, api, ok := n.leaderAPI()
	if !ok {
		return ApplyResult{}, notApplied(errNoLeader)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, api+"/api/v1/internal/apply", bytes.NewReader(body))
	if err != nil {
		return ApplyResult{}, err
	}
	req.Header.Set("Content-Type", commandType)
	req.Header.Set("X-Forwarded-By", n.cfg.ID)
	resp, err := n.client.Do(req)
	if err != nil {
		return ApplyResult{}, leaderErr(id, api, err)
	}
	defer resp.Body.Close()
	var out applyResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		if ctx.Err() != nil {
			return ApplyResult{}, leaderErr(id, api, ctx.Err())
		}
		return ApplyResult{}, &leaderError{ID: id, API: api, Code: http.StatusBadGateway,
			Err: fmt.Errorf("undecodable answer (HTTP %d): %v", resp.StatusCode, err)}
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return ApplyResult{Version: out.Version}, nil
	case http.StatusConflict:
		return ApplyResult{Version: out.Version}, ErrCASConflict
	case http.StatusServiceUnavailable:
		if resp.Header.Get("X-Not-Applied") == "true" {
			return ApplyResult{}, notApplied(errNoLeader) // it was no longer the leader
		}
		return ApplyResult{}, errNoLeader // it lost its leadership while applying
	}
	return ApplyResult{}, &upstreamStatus{Code: resp.StatusCode, Msg: out.Error}
}

type applyResponse struct {
	Version uint64 `json:"version"`
	Error   string `json:"error,omitempty"`
}

// commandType is the media type of a command forwarded in its log
// encoding.
const commandType = "application/x-odbench-command"

// internalApply appends a command a follower forwarded, in its log
// encoding; the FSM decodes and validates it as it does every entry.
func (n *Node) internalApply(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != commandType {
		writeErr(w, http.StatusUnsupportedMediaType, "a forwarded command is %s, not %q", commandType, ct)
		return
	}
	data, err := readBody(r)
	if err != nil {
		bodyError(w, err, "command: ")
		return
	}
	if err := checkEncoded(data); err != nil {
		writeErr(w, http.StatusBadRequest, "%v", err)
		return
	}
	if !n.isLeader() {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("X-Not-Applied", "true")
		writeErr(w, http.StatusServiceUnavailable, "not the leader")
		return
	}
	res, err := n.applyEncoded(data)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, applyResponse{Version: res.Version})
	case errors.Is(err, ErrCASConflict):
		writeJSON(w, http.StatusConflict, applyResponse{Version: res.Version, Error: err.Error()})
	default:
		writeApplyErr(w, err)
	}
}

// internalReadIndex answers a follower's catchUp: the leader's commit
// index, once leadership is verified.
func (n *Node) internalReadIndex(w http.ResponseWriter, r *http.Request) {
	if !n.isLeader() {
		writeApplyErr(w, errNoLeader)
		return
	}
	idx, err := n.leaderReadIndex()
	if err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"index": idx})
}

func errNoLeaderIf(err error) error {
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
		return errNoLeader
	}
	return err
}

// forwardToLeader re-sends a JSON request to the leader and relays its answer.
func (n *Node) forwardToLeader(w http.ResponseWriter, r *http.Request, body any) {
	b, _ := json.Marshal(body)
	n.relayToLeader(w, r, b)
}

// relayToLeader sends r (with body, if any) to the leader's API and
// relays the answer. A request another node already forwarded is not
// forwarded again: during an election that would bounce between nodes.
func (n *Node) relayToLeader(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("X-Forwarded-By") != "" {
		writeApplyErr(w, notApplied(errNoLeader))
		return
	}
	id, api, ok := n.leaderAPI()
	if !ok {
		writeApplyErr(w, notApplied(errNoLeader))
		return
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(r.Context(), n.cfg.ForwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, api+r.URL.RequestURI(), rd)
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Forwarded-By", n.cfg.ID)
	resp, err := n.client.Do(req)
	if err != nil {
		writeApplyErr(w, leaderErr(id, api, err))
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "X-Version", "X-Served-By", "Retry-After", "X-Not-Applied"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}
