// The node's HTTP layer: routes with their per-route timeouts, the
// middleware every request passes (panics, body bound, debug knobs,
// counters), and the JSON helpers handlers answer with.

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
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/pace"
)

// Version is the node API's version string.
const Version = "odbench-node/1"

const (
	maxBody        = 8 << 20 // request bodies
	requestTimeout = 30 * time.Second
	longTimeout    = 10 * time.Minute // inference, model pulls, blob ranges, profiles
)

// DefaultBodyTimeout bounds how long a request's body may take to arrive
// (--body-timeout), counted from the handler's start (its headers are
// bounded by the server's ReadHeaderTimeout, 10 s): a body that stalls
// gets 408 and the connection is closed. An answer, a stream of tokens
// say, may take as long as its route allows: the bound ends once the body
// is in.
const DefaultBodyTimeout = 15 * time.Second

// errBodyTimeout: the request body did not arrive within the body timeout.
var errBodyTimeout = errors.New("the request body stalled")

// deadlineBody is a request body read under a deadline of the
// connection's, lifted once the body has been read whole.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	left   int64 // bytes still expected; -1: unknown (chunked)
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	if !b.lifted && (err == io.EOF || b.left == 0) {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	var ne net.Error
	if err != nil && (errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())) {
		return n, errBodyTimeout
	}
	return n, err
}

var fixedTime time.Time // zero: no Last-Modified on blobs

// buildName names the binary serving: its module version and VCS revision
// when the toolchain stamped them.
func buildName() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	name := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			name += " " + s.Value
		}
	}
	return strings.TrimSpace(name)
}

func (n *Node) routes() http.Handler {
	mux := http.NewServeMux()
	// Every route is bounded where it is registered: most answer within
	// requestTimeout; an inference, a model pull, a blob range or a profile
	// may take up to longTimeout.
	h := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, bounded(requestTimeout, fn)) }
	long := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, bounded(longTimeout, fn)) }
	// Writes bound every wait themselves: raft.Apply's enqueue timeout and
	// Raft's leader lease on the leader, the forward timeout on a follower.
	// A request deadline would change nothing for them and costs a timer,
	// a context and a copy of the request on the path benchmarks hammer.
	write := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, fn) }

	h("GET /api/v1/health", n.health)
	h("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": Version, "build": buildName(), "go": runtime.Version()})
	})
	h("GET /api/v1/cluster/status", n.clusterStatus)
	h("GET /api/v1/cluster/leader", n.clusterLeader)
	h("POST /api/v1/cluster/join", n.clusterJoin)
	h("POST /api/v1/cluster/leave", n.clusterLeave)
	h("GET /api/v1/nodes", n.nodesList)
	h("GET /api/v1/nodes/{id}", n.nodeGet)
	h("POST /api/v1/nodes/{id}/drain", n.nodeDrain(true))
	h("POST /api/v1/nodes/{id}/undrain", n.nodeDrain(false))
	h("GET /api/v1/metrics", n.metricsJSON)
	h("GET /metrics", n.metrics.handler().ServeHTTP)

	write("PUT /api/v1/kv/{key}", n.kvPut)
	h("GET /api/v1/kv/{key}", n.kvGet)
	write("DELETE /api/v1/kv/{key}", n.kvDelete)
	write("POST /api/v1/kv/{key}/cas", n.kvCAS)
	write("POST /api/v1/internal/apply", n.internalApply)
	h("GET /api/v1/internal/read-index", n.internalReadIndex)

	h("GET /api/v1/models", n.modelsList)
	h("GET /api/v1/models/{name}", n.modelGet)
	h("POST /api/v1/models", n.modelCreate)
	long("POST /api/v1/models/{name}/download", n.modelDownload)
	h("DELETE /api/v1/models/{name}", n.modelDelete)
	long("GET /api/v1/blobs/{digest}", n.blobGet)

	h("POST /api/v1/p2p/broadcast", n.p2pBroadcast)
	h("GET /api/v1/p2p/messages/{id}", n.p2pMessage)
	h("GET /api/v1/p2p/locate/{digest}", n.p2pLocate)

	h("GET /api/v1/admin/faults", n.faultsGet)
	h("POST /api/v1/admin/faults", n.faultsSet)
	h("DELETE /api/v1/admin/faults", n.faultsClear)
	h("GET /api/v1/admin/policy", n.policyGet)
	h("POST /api/v1/admin/policy", n.policySet)

	long("POST /api/generate", n.infer.handle(ollamaGenerate))
	long("POST /api/chat", n.infer.handle(ollamaChat))
	long("POST /api/v1/generate", n.infer.handle(ollamaGenerate))
	long("POST /api/v1/chat", n.infer.handle(ollamaChat))
	long("POST /v1/chat/completions", n.infer.handle(openaiChat))
	long("POST /v1/completions", n.infer.handle(openaiCompletions))
	h("GET /v1/models", n.openaiModels)
	h("GET /api/tags", n.tags)
	long("POST /api/pull", n.pull)

	if n.cfg.Pprof {
		long("GET /debug/pprof/", pprof.Index)
		h("GET /debug/pprof/cmdline", pprof.Cmdline)
		long("GET /debug/pprof/profile", pprof.Profile)
		h("GET /debug/pprof/symbol", pprof.Symbol)
		long("GET /debug/pprof/trace", pprof.Trace)
	}
	return n.middleware(mux)
}

// bounded gives a route's requests a deadline.
func bounded(d time.Duration, fn http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		fn(w, r.WithContext(ctx))
	})
}

// middleware turns panics into 500s, bounds request bodies, applies the
// debug knobs and counts requests and server errors.
func (n *Node) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				n.log.Error("handler panic", "path", r.URL.Path, "panic", p)
				writeErr(w, http.StatusInternalServerError, "internal error")
			}
		}()
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			if rc.SetReadDeadline(time.Now().Add(n.cfg.BodyTimeout)) == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, left: r.ContentLength}
			}
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		if n.cfg.HangPath != "" && r.URL.Path == n.cfg.HangPath {
			<-r.Context().Done() // debug: this endpoint hangs until the client or the node gives up
			return
		}
		if d := n.cfg.ExtraLatency; d > 0 && (strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/v1/")) && !strings.HasPrefix(r.URL.Path, "/api/v1/internal/") {
			// A precise wait: time.Sleep(100µs) lasts about 1 ms on Linux,
			// which would plant ten times the slowdown asked for. No spin at
			// the end (Margin 0): under load it would take CPU from the node.
			s := pace.NewSleeper()
			s.Margin = 0
			s.Sleep(d)
			s.Close()
		}
		n.requests.Add(1)
		sw := &statusWriter{ResponseWriter: w}
		began := time.Now()
		next.ServeHTTP(sw, r)
		n.metrics.httpDuration.Observe(time.Since(began).Seconds())
		if sw.code >= 500 {
			n.serverErrors.Add(1)
		}
	})
}

// statusWriter remembers the status code, for the error counter; it
// passes Flush through for streamed answers.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, args...)})
}

// decode reads a JSON body into v, answering 400 on failure: a body
// that is not one JSON value (trailing data), or that is null where an
// object is wanted, is refused, as is one that stalls (408, see
// DefaultBodyTimeout) or is too large (413).
func decode(w http.ResponseWriter, r *http.Request, v any) bool { return decodeBody(w, r, v, false) }

// decodeStrict is decode that also refuses fields v does not have: for
// the admin routes, where a misspelt rule ("dropp") would otherwise be
// dropped without a word and the fault silently not injected.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	return decodeBody(w, r, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any, strict bool) bool {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	var raw json.RawMessage
	err := dec.Decode(&raw)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("trailing data after the JSON value")
			if terr != nil && !isSyntax(terr) {
				err = terr
			}
		}
	}
	if err == nil && bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		err = errors.New("the body is null; want a JSON object")
	}
	if err == nil {
		d := json.NewDecoder(bytes.NewReader(raw))
		if strict {
			d.DisallowUnknownFields()
		}
		err = d.Decode(v)
	}
	if err != nil {
		bodyError(w, err, "malformed JSON: ")
		return false
	}
	return true
}

func isSyntax(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// bodyError answers a failure to read a request body: 413 when it was too
// large, 408 when it stalled past the body timeout, else 400 with prefix.
func bodyError(w http.ResponseWriter, err error, prefix string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeErr(w, http.StatusRequestEntityTooLarge, "request body over %d bytes", mbe.Limit)
	case errors.Is(err, errBodyTimeout):
		w.Header().Set("Connection", "close")
		writeErr(w, http.StatusRequestTimeout, "the request body did not arrive in time (the node's --body-timeout)")
	default:
		writeErr(w, http.StatusBadRequest, "%s%v", prefix, err)
	}
}

// readBody reads a request body in one allocation when its length is
// known (the middleware bounds it).
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= maxBody {
		b := make([]byte, n)
		_, err := io.ReadFull(r.Body, b)
		return b, err
	}
	return io.ReadAll(r.Body)
}

// health answers 200 while the node knows a Raft leader, so can serve a
// write, and 503 (with Retry-After) while it does not: starting, in an
// election, or cut off from a quorum. Like etcd's /health, it says whether
// the member is of use, not merely whether its process answers.
func (n *Node) health(w http.ResponseWriter, r *http.Request) {
	addr, id := n.raft.LeaderWithID()
	if addr == "" {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "no leader", "id": n.cfg.ID,
			"state": n.raft.State().String(), "uptime_s": time.Since(n.started).Seconds()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "id": n.cfg.ID, "leader_id": string(id), "uptime_s": time.Since(n.started).Seconds()})
}
