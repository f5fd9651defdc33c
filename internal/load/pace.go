package load

import (
	"context"
	"time"
)

// pacer wakes the open-loop scheduler at intended start times. Go's own
// timers wake about 1 ms late on Linux (the runtime waits in epoll with
// millisecond timeouts, Go issue 44343), and that lateness would be
// charged to the target as latency. The pacer instead sleeps in the kernel
// (nanosleep with 1 ns timer slack on a locked thread, where available) to
// shortly before the intended time, then spins the rest.
type pacer struct {
	// margin is how early the kernel sleep ends; the rest is spun.
	margin time.Duration
	// precise is true where the nanosleep path is in use.
	precise bool
}

// maxMargin bounds the spin per arrival.
const maxMargin = 150 * time.Microsecond

func newPacer(interval time.Duration) *pacer {
	p := &pacer{margin: min(maxMargin, interval/4)}
	p.precise = setupPreciseSleep()
	return p
}

// waitUntil returns at t (or later) or when ctx is done; it reports
// whether t was reached.
func (p *pacer) waitUntil(ctx context.Context, t time.Time) bool {
	for {
		d := time.Until(t)
		if d <= 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		switch {
		case d > 50*time.Millisecond:
			// Long waits in slices, so cancellation is noticed.
			p.sleep(50 * time.Millisecond)
		case d > p.margin:
			p.sleep(d - p.margin)
		default:
			for time.Now().Before(t) {
			}
			return true
		}
	}
}

func (p *pacer) sleep(d time.Duration) {
	if p.precise {
		nanosleep(d)
		return
	}
	time.Sleep(d)
}
