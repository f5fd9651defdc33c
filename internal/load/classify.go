package load

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Kinder is implemented by errors that know their own kind.
type Kinder interface{ Kind() string }

// Error kinds that Classify returns besides those of Kinder errors.
const (
	KindTimeout = "timeout"
	KindRefused = "refused"
	KindReset   = "reset"
	KindEOF     = "eof"
	KindOther   = "other"
)

// Classify names the kind of an operation's error: the error's own Kind if
// it has one (StatusError: "http_503", "rate_limited"), else timeout,
// refused, reset, eof or other.
func Classify(err error) string {
	var k Kinder
	if errors.As(err, &k) {
		return k.Kind()
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return KindTimeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, fasthttp.ErrTimeout), errors.Is(err, fasthttp.ErrDialTimeout):
		return KindTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, fasthttp.ErrConnectionClosed):
		return KindReset
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return KindEOF
	}
	return KindOther
}
