package load

import (
	"context"
	"time"

	"github.com/valyala/fasthttp"
)

// FastClient sends plain request/response HTTP (no streaming) with
// valyala/fasthttp. On this machine class it drives 2.4x the requests per
// core of net/http (54k vs 22k req/s, 50 connections, one core; see
// `make bench-engine`): net/http spends about half its CPU on per-request
// goroutine hand-offs, channels and contexts, fasthttp almost none, which
// leaves the engine bound by the kernel's loopback syscalls. Scenarios use
// it for high-rate operations (API reads, KV); streamed responses
// (inference) use net/http (NewHTTPClient), where token timing matters
// more than requests per core.
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
		ReadTimeout:        timeout,
		WriteTimeout:       timeout,
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
	deadline := time.Now().Add(f.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
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
	if err := f.c.DoDeadline(req, resp, deadline); err != nil {
		return err
	}
	code := resp.StatusCode()
	if code < 200 || code > 299 {
		body := resp.Body()
		return &StatusError{Code: code, RetryAfter: string(resp.Header.Peek("Retry-After")), Body: string(body[:min(len(body), maxErrorBody)])}
	}
	if read != nil {
		return read(code, resp.Body())
	}
	return nil
}

// Close closes idle connections; fasthttp's cleaner goroutines for them
// end within about two seconds.
func (f *FastClient) Close() { f.c.CloseIdleConnections() }

// GoleakIgnore names the one goroutine fasthttp keeps for the whole
// process (its default dialer's DNS cache cleaner), for goleak options.
const GoleakIgnore = "github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"
