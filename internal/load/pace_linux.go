package load

import (
	"runtime"
	"syscall"
	"time"
)

const prSetTimerSlack = 29 // PR_SET_TIMERSLACK from <linux/prctl.h>

// setupPreciseSleep locks the calling goroutine to its thread and sets the
// thread's timer slack to 1 ns. The caller must call runtime.UnlockOSThread
// when done (the thread keeps its slack; it is an odbench thread).
func setupPreciseSleep() bool {
	runtime.LockOSThread()
	_, _, errno := syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	return errno == 0
}

func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
