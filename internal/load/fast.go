package load

import (
	"context"
	"io"
	"net"
	"runtime"
	"time"

	"github.com/valyala/fasthttp"
)

// FastClient sends plain request/response HTTP (no streaming) with
// valyala/fasthttp. Scenarios use it for high-rate operations (API reads,
// KV); streamed responses (inference) use net/http (NewHTTPClient), where
// token timing matters more than requests per core.
//
// Why fasthttp, and why its connections are wrapped (see engineConn): on
// this machine class, 50 connections, one core, net/http drives about 22k
// req/s and spends about half its CPU on per-request goroutine hand-offs,
// channels and contexts; fasthttp drives 2.4x that and leaves the engine
// bound by the kernel's loopback syscalls. engineConn then cuts those
// syscalls to what an event loop such as wrk's makes, for about 15% more
// (8–23% over five interleaved pairs of runs). `make bench-engine` prints
// the engine's req/s beside wrk's on the same core.
type FastClient struct {
	c       *fasthttp.Client
	timeout time.Duration
}

// NewFastClient returns a client with up to conns keep-alive connections
// per host and a bound of timeout on each request.
func NewFastClient(conns int, timeout time.Duration) *FastClient {
	if conns < 1 {
		conns = 1
	}
	return &FastClient{timeout: timeout, c: &fasthttp.Client{
		MaxConnsPerHost:    conns,
		MaxConnWaitTimeout: timeout,
		// No client-wide Read/WriteTimeout: every request carries its own
		// deadline (Do), which bounds writing and reading alike, and
		// fasthttp would otherwise set the connection's deadlines twice.
		DialTimeout: dialEngineConn,
		// fasthttp retries a failed idempotent request up to 5 times by
		// default, which would hide resets and closed connections from the
		// error counts; see retryClosedIdle.
		RetryIfErr: retryClosedIdle,
		// fasthttp reuses the most recently freed connection first, so a
		// connection idle for a second is one the load does not need; the
		// short limit also ends the client's cleaner goroutines within about
		// two seconds of Close instead of lingering for minutes.
		MaxIdleConnDuration:      time.Second,
		NoDefaultUserAgentHeader: false,
		Name:                     "odbench",
		MaxResponseBodySize:      64 << 20,
		DialDualStack:            false,
	}}
}

// retryClosedIdle allows one retry of a GET or HEAD whose connection gave
// no byte of an answer (closed, or reset: fasthttp reads any failure before
// the first byte as io.EOF). That is what a server does to a keep-alive
// connection it finds idle just as the request leaves, and the case
// net/http retries too. Timeouts and failures after the first byte are
// counted, never retried; a second failure is counted as well.
func retryClosedIdle(req *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	// A failure after the first byte is wrapped, so only the bare sentinel
	// means that nothing came back.
	closed := err == io.EOF
	return false, closed && attempts < 2 && (req.Header.IsGet() || req.Header.IsHead())
}

// dialEngineConn dials over TCP (IPv4, as fasthttp does by default) and
// wraps the connection in an engineConn.
func dialEngineConn(addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	var err error
	if timeout > 0 {
		c, err = fasthttp.DialTimeout(addr, timeout)
	} else {
		c, err = fasthttp.Dial(addr)
	}
	if err != nil {
		return nil, err
	}
	return &engineConn{Conn: c}, nil
}

// engineConn is a client connection that makes the syscalls of an event
// loop rather than those of a naive blocking client:
//
//   - After a request is written it yields to the other workers before
//     reading. A reply over loopback takes some microseconds; a read at once
//     finds nothing, fails with EAGAIN, parks the goroutine and reads again
//     when the poller reports the socket ready. After the yield the reply is
//     usually there, and one read takes it, as wrk reads only sockets epoll
//     reported ready. When no other goroutine is runnable the yield returns
//     at once, so a single worker loses nothing. Only when the engine's CPU
//     is saturated does it show in latency: workers then take turns in a
//     different order, and in a closed loop the median falls while the
//     p99 widens (0.8 -> 0.6 ms and 2.3-3.4 -> 3-4.5 ms at 50 connections
//     on one core). Such a run is flagged host-bound anyway.
//   - Deadlines are moved only when they need to be. fasthttp sets a read
//     and a write deadline on every request, and each one re-arms a runtime
//     timer. A deadline already set that lies at most deadlineSlack (and at
//     most 1/16 of the time it was set for) beyond the one asked for is kept,
//     so a timeout may fire that much late but never early.
//
// A connection is used by one request at a time, so its fields need no lock.
type engineConn struct {
	net.Conn
	read, write deadline
}

func (c *engineConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	runtime.Gosched()
	return n, err
}

func (c *engineConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *engineConn) SetReadDeadline(t time.Time) error {
	return c.read.move(t, c.Conn.SetReadDeadline)
}

func (c *engineConn) SetWriteDeadline(t time.Time) error {
	return c.write.move(t, c.Conn.SetWriteDeadline)
}

// deadlineSlack bounds how much later than asked a deadline may fire.
const deadlineSlack = 100 * time.Millisecond

// deadline is one direction's deadline as last set on the connection.
type deadline struct {
	at    time.Time // zero: none
	slack time.Duration
}

// move makes the connection's deadline (through set) no earlier than want
// and at most d.slack later, setting it only when the current one is not.
func (d *deadline) move(want time.Time, set func(time.Time) error) error {
	if want.IsZero() {
		if d.at.IsZero() {
			return nil
		}
		*d = deadline{}
		return set(want)
	}
	if !d.at.IsZero() && !d.at.Before(want) && d.at.Sub(want) <= d.slack {
		return nil
	}
	d.slack = max(0, min(deadlineSlack, time.Until(want)/16))
	d.at = want.Add(d.slack)
	return set(d.at)
}

// Get fetches url and discards the body; non-2xx answers are StatusErrors.
func (f *FastClient) Get(ctx context.Context, url string) error {
	return f.Do(ctx, fasthttp.MethodGet, url, nil, nil)
}

// Do sends one request. For a 2xx answer read (if not nil) gets the status
// and body, which are only valid during the call. The request is bounded
// by the client's timeout and ctx's deadline; a cancelled ctx stops it
// before it is sent (fasthttp cannot abort a request in flight).
func (f *FastClient) Do(ctx context.Context, method, url string, body []byte, read func(status int, body []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	if body != nil {
		req.SetBodyRaw(body)
	}
	var err error
	if d, ok := ctx.Deadline(); ok && time.Until(d) < f.timeout {
		err = f.c.DoDeadline(req, resp, d)
	} else {
		err = f.c.DoTimeout(req, resp, f.timeout)
	}
	if err != nil {
		return err
	}
	code := resp.StatusCode()
	if code < 200 || code > 299 {
		return StatusErrorOf(code, func(h string) string { return string(resp.Header.Peek(h)) }, resp.Body())
	}
	if read != nil {
		return read(code, resp.Body())
	}
	return nil
}

// Send sends one request with headers and hands any answer, whatever its
// status, to judge, which decides whether it is a success (the status,
// headers and body are only valid during the call); only failures to get
// an answer at all are Send's own errors. judge may return StatusErrorOf
// for an answer that is an error of the target.
func (f *FastClient) Send(ctx context.Context, method, url string, headers map[string]string, body []byte,
	judge func(code int, header func(string) string, body []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(method)
	req.SetRequestURI(url)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.SetBodyRaw(body)
	}
	var err error
	if d, ok := ctx.Deadline(); ok && time.Until(d) < f.timeout {
		err = f.c.DoDeadline(req, resp, d)
	} else {
		err = f.c.DoTimeout(req, resp, f.timeout)
	}
	if err != nil {
		return err
	}
	return judge(resp.StatusCode(), func(h string) string { return string(resp.Header.Peek(h)) }, resp.Body())
}

// StatusErrorOf is the StatusError of an answer a caller judged an error.
func StatusErrorOf(code int, header func(string) string, body []byte) *StatusError {
	se := &StatusError{Code: code, RetryAfter: header("Retry-After"), Body: string(body[:min(len(body), maxErrorBody)])}
	if code == fasthttp.StatusTooManyRequests {
		se.RateLimit = rateLimitOf(header)
	}
	return se
}

// Close closes idle connections; fasthttp's cleaner goroutines for them
// end within about two seconds.
func (f *FastClient) Close() { f.c.CloseIdleConnections() }
