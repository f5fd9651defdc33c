//go:build !linux

package load

func newTimerFD() timerFD { return nil }
