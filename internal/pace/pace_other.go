//go:build !linux

package pace

func newTimerFD() timerFD { return nil }
