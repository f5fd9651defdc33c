// Package pace sleeps precisely.
//
// What flows through it: a caller asks a Sleeper to wait for a duration or
// until an instant; on Linux the Sleeper arms a timerfd and reads it
// through Go's netpoller, spinning only the last few tens of microseconds,
// so a wait of 100 µs lasts about that long instead of the millisecond a
// Go timer takes. Elsewhere it falls back to time.Sleep. The load engine
// paces open-loop arrivals with it; the reference node adds its debug
// latency (--debug-extra-latency) with it. A Sleeper holds one timer: one
// goroutine uses it at a time, and Close releases it.
package pace
