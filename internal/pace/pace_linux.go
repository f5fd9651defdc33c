package pace

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

type linuxTimerFD struct {
	fd  int
	f   *os.File
	buf [8]byte
}

func newTimerFD() timerFD {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil
	}
	// A non-blocking fd given to os.NewFile is read through the netpoller.
	return &linuxTimerFD{fd: fd, f: os.NewFile(uintptr(fd), "odbench-timerfd")}
}

func (t *linuxTimerFD) sleep(d time.Duration) error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(int64(d))}
	if err := unix.TimerfdSettime(t.fd, 0, &spec, nil); err != nil {
		return err
	}
	_, err := t.f.Read(t.buf[:])
	return err
}

func (t *linuxTimerFD) close() { t.f.Close() }
