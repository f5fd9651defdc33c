package cluster

import (
	"context"
	"errors"
	"time"
)

// pollUntil calls check every interval until it returns nil, ctx ends or
// stop (when not nil) closes, and returns check's last error then: the
// last one from before ctx ended, as a check cut short by the deadline
// only says that time ran out, not what was wrong. Every readiness wait of
// the drivers is one.
func pollUntil(ctx context.Context, interval time.Duration, stop <-chan struct{}, check func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		err := check()
		if err == nil {
			return nil
		}
		// An error after ctx ended, or a round the rate limit cut short,
		// says less than the one before it.
		if last == nil || (ctx.Err() == nil && !errors.Is(err, errPacedOut)) {
			last = err
		}
		select {
		case <-ctx.Done():
			return last
		case <-stop:
			return last
		case <-t.C:
		}
	}
}
