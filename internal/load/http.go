package load

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/odbench/odbench/internal/metrics"
)

// NewHTTPClient returns a client tuned for load: keep-alive connections for
// up to conns concurrent requests per host, no compression, no HTTP/2
// (one request per connection at a time, like wrk), and a timeout per request.
//
// It serves streamed responses (inference), whose token timing fasthttp
// cannot report; high-rate plain requests go through FastClient, which
// drives more than twice the requests per core.
func NewHTTPClient(conns int, timeout time.Duration) *http.Client {
	if conns < 1 {
		conns = 1
	}
	tr := &http.Transport{
		Proxy: nil, // load goes straight to the target, never through HTTP_PROXY
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          conns * 4,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// StatusError is a non-2xx HTTP answer.
type StatusError struct {
	Code int
	// RetryAfter is the Retry-After header, if any.
	RetryAfter string
	// RateLimit holds the rate-limit headers of a 429 answer that has any
	// (X-RateLimit-Limit, RateLimit-Policy, ...), by canonical name.
	RateLimit map[string]string
	// Body is the start of the answer's body (at most 256 bytes), for
	// telling a missing route from a missing resource.
	Body string
}

// maxErrorBody bounds StatusError.Body.
const maxErrorBody = 256

// rateLimitHeaders are the headers servers use to say their limit: the
// de facto X-RateLimit-* and the IETF draft's RateLimit-*.
var rateLimitHeaders = []string{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset",
	"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset", "Ratelimit-Policy", "Ratelimit"}

// rateLimitOf collects the rate-limit headers get returns.
func rateLimitOf(get func(string) string) map[string]string {
	var out map[string]string
	for _, h := range rateLimitHeaders {
		if v := get(h); v != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[h] = v
		}
	}
	return out
}

func (e *StatusError) Error() string {
	if e.Code == http.StatusTooManyRequests {
		return "HTTP 429 Too Many Requests (rate-limited)"
	}
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// Kind is "rate_limited" for 429 and "http_<code>" otherwise.
func (e *StatusError) Kind() string {
	if e.Code == http.StatusTooManyRequests {
		return metrics.KindRateLimited
	}
	return "http_" + strconv.Itoa(e.Code)
}

// Get fetches url, reads and discards the body, and returns a StatusError
// for non-2xx answers.
func Get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return Do(c, req, nil)
}

// StatusOf reads the start of a failed answer's body into a StatusError
// with its code, Retry-After and, for a 429, the rate limit it announced.
func StatusOf(resp *http.Response) *StatusError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	se := &StatusError{Code: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: string(b)}
	if se.Code == http.StatusTooManyRequests {
		se.RateLimit = rateLimitOf(resp.Header.Get)
	}
	return se
}

// Do sends req; for a 2xx answer it hands the body to read (or discards it
// when read is nil); any other status is a StatusError. The body is always
// drained and closed so the connection is reused.
func Do(c *http.Client, req *http.Request, read func(*http.Response) error) error {
	return Exchange(c, req, func(resp *http.Response) error {
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return StatusOf(resp)
		}
		if read != nil {
			return read(resp)
		}
		return nil
	})
}

// Exchange sends req and hands every answer, whatever its status, to
// judge; then it drains and closes the body so the connection is reused.
func Exchange(c *http.Client, req *http.Request, judge func(*http.Response) error) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}()
	return judge(resp)
}
