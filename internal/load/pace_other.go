//go:build !linux

package load

import (
	"runtime"
	"time"
)

func setupPreciseSleep() bool {
	runtime.LockOSThread()
	return false
}

func nanosleep(d time.Duration) { time.Sleep(d) }
