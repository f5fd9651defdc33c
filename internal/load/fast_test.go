package load

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeadlineMove: a deadline is never earlier than asked, at most the
// slack later, and the connection's timer is only re-armed when it must be.
func TestDeadlineMove(t *testing.T) {
	t.Parallel()
	var d deadline
	var sets int
	var last time.Time
	set := func(at time.Time) error { sets++; last = at; return nil }
	check := func(want time.Time, wantSets int) {
		t.Helper()
		if err := d.move(want, set); err != nil {
			t.Fatal(err)
		}
		if sets != wantSets {
			t.Fatalf("after asking for %v: %d sets, want %d", want, sets, wantSets)
		}
		if !want.IsZero() && (last.Before(want) || last.Sub(want) > deadlineSlack) {
			t.Fatalf("deadline %v for %v: early, or later than the slack", last, want)
		}
	}
	now := time.Now()
	check(now.Add(10*time.Second), 1)
	check(now.Add(10*time.Second+50*time.Millisecond), 1)  // within the slack: kept
	check(now.Add(10*time.Second+150*time.Millisecond), 2) // beyond it: moved
	check(now.Add(time.Second), 3)                         // much earlier: moved
	check(time.Time{}, 4)                                  // cleared
	if !last.IsZero() {
		t.Fatalf("cleared deadline set to %v, want zero", last)
	}
	check(time.Time{}, 4) // already clear
	// A short deadline gets a proportionally short slack.
	check(now.Add(160*time.Millisecond), 5)
	if got := last.Sub(now.Add(160 * time.Millisecond)); got > 10*time.Millisecond {
		t.Errorf("slack for a 160ms deadline = %v, want at most 1/16 of it", got)
	}
}

// TestFastClientRetries: fasthttp would retry a failed GET up to five
// times; FastClient retries only a connection that gave no byte of an
// answer, once, and only GET or HEAD.
func TestFastClientRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method string
		reset        bool
		wantSeen     int64
		wantKind     string
	}{
		{"GET closed", "GET", false, 2, KindReset},
		{"POST closed", "POST", false, 1, KindReset},
		{"GET reset", "GET", true, 2, KindReset}, // fasthttp reads a reset before the first byte as a close
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, seen := hangUpServer(t, tc.reset)
			c := NewFastClient(1, 5*time.Second)
			defer closeFastClient(t, c)
			err := c.Do(context.Background(), tc.method, "http://"+addr+"/", nil, nil)
			if err == nil {
				t.Fatal("a server that hangs up answered without error")
			}
			if got := seen.Load(); got != tc.wantSeen {
				t.Errorf("server saw %d requests, want %d (error %v)", got, tc.wantSeen, err)
			}
			if got := Classify(err); got != tc.wantKind {
				t.Errorf("error %v classified %q, want %q", err, got, tc.wantKind)
			}
		})
	}
}

// TestFastClientTimeout: a target that never answers costs a timeout
// error, not a hang, with the client's bound and with a context's.
func TestFastClientTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	c := NewFastClient(2, 200*time.Millisecond)
	defer closeFastClient(t, c)
	if err := c.Get(context.Background(), srv.URL); Classify(err) != KindTimeout {
		t.Errorf("client timeout: error %v, want kind %q", err, KindTimeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.Get(ctx, srv.URL); Classify(err) != KindTimeout {
		t.Errorf("context deadline: error %v, want kind %q", err, KindTimeout)
	}
}

// TestFastClientKeepAlive: many requests reuse the connections instead of
// dialling one each.
func TestFastClientKeepAlive(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := NewFastClient(4, 5*time.Second)
	defer closeFastClient(t, c)
	op := Operation{Name: "get", Do: func(ctx context.Context) error { return c.Get(ctx, srv.URL) }}
	res, err := RunClosed(context.Background(), Closed{Workers: 4, Duration: 200 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	got := res.Operations()[0]
	if got.Errors != 0 || got.Count < 10 {
		t.Fatalf("count %d, errors %v: want many successes", got.Count, got.ErrorsByKind)
	}
	if n := conns.Load(); n > 4 {
		t.Errorf("%d connections for %d requests by 4 workers, want at most 4", n, got.Count)
	}
}

// hangUpServer accepts connections and, for each request, closes the
// connection without answering (with a reset if reset). It counts the
// requests it read.
func hangUpServer(t *testing.T, reset bool) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var seen atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r := bufio.NewReader(c)
			for { // the request line and headers, up to the blank line
				line, err := r.ReadString('\n')
				if err != nil || strings.TrimSpace(line) == "" {
					break
				}
			}
			seen.Add(1)
			if reset {
				_ = c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
		}
	}()
	return ln.Addr().String(), &seen
}

// closeFastClient closes c and waits up to 5 s for fasthttp's idle
// connection cleaners to end, so the package's leak check stays exact.
func closeFastClient(t *testing.T, c *FastClient) {
	t.Helper()
	c.Close()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "connsCleaner") {
			return
		}
	}
}
