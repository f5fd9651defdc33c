package node

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// pipe returns a filtered client end writing to remote "peer" and the
// server end it reaches, over loopback TCP.
func pipe(t *testing.T, f *faultFilter) (client net.Conn, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	client = f.wrap(c, "peer")
	t.Cleanup(func() { client.Close(); s.Close() })
	return client, s
}

// Only lower bounds are asserted: a shaped write can never arrive sooner
// than its delay, however busy the machine.
func TestShapedLinkDelaysInOrderWithoutBlockingTheWriter(t *testing.T) {
	f := newFaultFilter()
	f.set(faultRules{Links: map[string]LinkFault{"peer": {Delay: 60 * time.Millisecond, Jitter: 40 * time.Millisecond}}})
	client, server := pipe(t, f)
	began := time.Now()
	var want []byte
	for i := range 50 {
		b := []byte{byte(i)}
		want = append(want, b...)
		if _, err := client.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	queued := time.Since(began)
	got := make([]byte, len(want))
	if _, err := io.ReadFull(server, got); err != nil {
		t.Fatal(err)
	}
	if arrived := time.Since(began); arrived < 20*time.Millisecond {
		t.Errorf("the bytes arrived after %v, before the least delay (60ms - 40ms jitter)", arrived)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the stream was reordered: %v", got)
	}
	t.Logf("50 writes queued in %v", queued)
}

func TestLossyLinkDelaysTCPByARetransmission(t *testing.T) {
	f := newFaultFilter()
	f.set(faultRules{Links: map[string]LinkFault{"peer": {LossPercent: 100}}})
	client, server := pipe(t, f)
	began := time.Now()
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < lossPenalty {
		t.Errorf("a lost write arrived after %v, before the retransmission timeout %v", d, lossPenalty)
	}
}

func TestBandwidthCap(t *testing.T) {
	f := newFaultFilter()
	f.set(faultRules{Links: map[string]LinkFault{"peer": {BandwidthKBPerSec: 64}}})
	client, server := pipe(t, f)
	began := time.Now()
	if _, err := client.Write(make([]byte, 96<<10)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, make([]byte, 96<<10)); err != nil {
		t.Fatal(err)
	}
	if d, least := time.Since(began), time.Duration(float64(96<<10)/64000*float64(time.Second)); d < least {
		t.Errorf("96 KiB went through a 64 KB/s link in %v, under %v", d, least)
	}
}

// within fails the test unless done closes within bound: what it guards
// is that something ends at all (a heal, a close), not how fast.
func within(t *testing.T, bound time.Duration, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(bound):
		t.Fatalf("%s: still waiting after %v", what, bound)
	}
}

// queuedFull waits until c's queue of shaped writes is full, so its writer
// is held back.
func queuedFull(t *testing.T, c net.Conn) {
	t.Helper()
	fc := c.(*filteredConn)
	for deadline := time.Now().Add(10 * time.Second); fc.pending.Load() < 256; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued after 10s, want a full queue", fc.pending.Load())
		}
	}
}

// A heal ends every wait of the fault it heals: bytes a 1 KB/s link would
// hold for a minute go out at once, and a writer held back by a full
// queue is let go.
func TestHealEndsShapedWaits(t *testing.T) {
	f := newFaultFilter()
	f.set(faultRules{Links: map[string]LinkFault{"peer": {BandwidthKBPerSec: 1}}})
	client, server := pipe(t, f)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for range 300 { // more than the queue holds: the writer is held back
			if _, err := client.Write(make([]byte, 200)); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	arrived := make(chan struct{})
	go func() {
		defer close(arrived)
		_, _ = io.ReadFull(server, make([]byte, 300*200))
	}()
	queuedFull(t, client)
	f.set(faultRules{}) // heal
	within(t, 10*time.Second, "the writer after the heal", wrote)
	within(t, 10*time.Second, "the bytes after the heal", arrived)
}

// Close never waits for a shaped write, queued or held back.
func TestCloseDuringAShapedWrite(t *testing.T) {
	f := newFaultFilter()
	f.set(faultRules{Links: map[string]LinkFault{"peer": {BandwidthKBPerSec: 1}}})
	client, _ := pipe(t, f)
	held := make(chan error, 1)
	go func() {
		for {
			if _, err := client.Write(make([]byte, 200)); err != nil {
				held <- err
				return
			}
		}
	}()
	queuedFull(t, client)
	closed := make(chan struct{})
	go func() { client.Close(); close(closed) }()
	within(t, 10*time.Second, "Close", closed)
	select {
	case err := <-held:
		if err == nil {
			t.Error("a write after Close succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the writer held back by the full queue was not let go by Close")
	}
}

func TestDroppedLinkCutsLiveConnections(t *testing.T) {
	f := newFaultFilter()
	client, _ := pipe(t, f)
	f.set(faultRules{Drop: []string{"peer"}})
	if _, err := client.Write([]byte("x")); err == nil {
		t.Fatal("a write to a dropped peer succeeded")
	}
	f.set(faultRules{})
	if r := f.rules(); len(r.Drop) != 0 || len(r.Links) != 0 {
		t.Errorf("rules after clearing: %+v", r)
	}
}

type memLogs struct {
	raft.LogStore
	stored int
}

func (m *memLogs) StoreLogs(ls []*raft.Log) error { m.stored += len(ls); return nil }

func TestSlowDiskDelaysLogWrites(t *testing.T) {
	f := newFaultFilter()
	logs := &memLogs{}
	s := slowLogStore{LogStore: logs, f: f}
	f.set(faultRules{DiskDelay: 30 * time.Millisecond})
	began := time.Now()
	if err := s.StoreLogs([]*raft.Log{{Index: 1}, {Index: 2}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 30*time.Millisecond || logs.stored != 2 {
		t.Errorf("stored %d logs in %v: want 2, after at least 30ms", logs.stored, d)
	}
}

func TestHealEndsASlowDiskWrite(t *testing.T) {
	f := newFaultFilter()
	s := slowLogStore{LogStore: &memLogs{}, f: f}
	f.set(faultRules{DiskDelay: 30 * time.Second})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.StoreLogs([]*raft.Log{{Index: 1}})
	}()
	f.set(faultRules{})
	within(t, 10*time.Second, "the log write after the heal", done)
}
