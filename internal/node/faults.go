// The fault filter: what this node does to its own traffic and disk when
// a benchmark injects a fault through /api/v1/admin/faults.

package node

import (
	"errors"
	"math/rand/v2"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// errFaultDrop is returned for traffic the fault filter drops.
var errFaultDrop = errors.New("dropped by the fault filter")

// lossPenalty is what a lost segment costs a TCP stream: the sender
// resends it after the retransmission timeout, whose minimum on Linux is
// 200 ms. A TCP write "lost" by the filter is delayed by it; a UDP packet
// is dropped.
const lossPenalty = 200 * time.Millisecond

// LinkFault shapes the traffic to one peer, the way toxiproxy's toxics
// do: every write waits Delay ± Jitter (in order: a stream stays a
// stream), is lost with probability LossPercent, and the link carries at
// most BandwidthKBPerSec kilobytes per second (0: no cap).
type LinkFault struct {
	Delay             time.Duration
	Jitter            time.Duration
	LossPercent       float64
	BandwidthKBPerSec float64
}

// Bounds of a link fault the admin API accepts. Below the bandwidth floor
// a single Raft heartbeat would take seconds to leave; past the delay
// ceiling a benchmark measures nothing but the wait.
const (
	minBandwidthKBPerSec = 1
	maxBandwidthKBPerSec = 10_000_000 // 10 GB/s
	maxFaultDelay        = 30 * time.Second
	// maxPacketQueue is how far ahead a shaped link holds a gossip packet
	// (UDP); a packet due later is dropped, as a full router queue drops it.
	maxPacketQueue = 2 * time.Second
)

// link is a LinkFault in force on one remote address.
type link struct {
	LinkFault
	bytesPerSec float64 // 0: no cap

	mu   sync.Mutex
	free time.Time // when the link has sent everything scheduled so far
}

func newLink(f LinkFault) *link {
	return &link{LinkFault: f, bytesPerSec: f.BandwidthKBPerSec * 1000}
}

// schedule returns when a write of n bytes handed over at now leaves the
// link: once the link has sent what was scheduled before it, at the
// bandwidth cap, plus the delay. It never sleeps: the caller waits, and a
// heal can end the wait.
func (l *link) schedule(now time.Time, n int) time.Time {
	due := now
	if l.bytesPerSec > 0 {
		l.mu.Lock()
		start := now
		if l.free.After(start) {
			start = l.free
		}
		l.free = start.Add(time.Duration(float64(n) / l.bytesPerSec * float64(time.Second)))
		due = l.free
		l.mu.Unlock()
	}
	return due.Add(l.delay())
}

// lost decides whether one write is lost.
func (l *link) lost() bool { return l.LossPercent > 0 && rand.Float64()*100 < l.LossPercent }

// delay draws one write's delay: Delay ± a uniform Jitter, never negative.
func (l *link) delay() time.Duration {
	d := l.Delay
	if l.Jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * float64(l.Jitter))
	}
	return max(d, 0)
}

// faultFilter decides, per remote address, whether traffic is dropped or
// shaped, and how slow this node's disk is. Both ends of a partition
// install the filter (the driver does), so filtering what this node sends
// and dials is enough to cut a link; on a change, live connections to
// newly blocked addresses are closed.
//
// Every change of the rules is a new generation: whatever waits on the
// rules of an older one (a shaped write, a delayed packet, a slowed disk
// write) stops waiting at once, so a heal always heals.
type faultFilter struct {
	mu        sync.RWMutex
	drop      map[string]bool  // remote addr -> drop
	links     map[string]*link // remote addr -> shaping
	corrupt   bool             // serve corrupted blob bytes
	conns     map[*filteredConn]struct{}
	gen       uint64        // the rules' generation
	changed   chan struct{} // closed when the rules change
	diskDelay atomic.Int64  // ns added to every Raft log write
}

func newFaultFilter() *faultFilter {
	return &faultFilter{drop: map[string]bool{}, links: map[string]*link{}, conns: map[*filteredConn]struct{}{},
		changed: make(chan struct{})}
}

// faultRules is everything the filter can apply, by remote address.
type faultRules struct {
	Drop      []string
	Links     map[string]LinkFault
	Corrupt   bool
	DiskDelay time.Duration
}

// set replaces the rules, ends every wait on the old ones and closes live
// connections to dropped addresses.
func (f *faultFilter) set(r faultRules) {
	f.mu.Lock()
	f.drop = map[string]bool{}
	for _, a := range r.Drop {
		f.drop[a] = true
	}
	f.links = map[string]*link{}
	for a, lf := range r.Links {
		f.links[a] = newLink(lf)
	}
	f.corrupt = r.Corrupt
	f.diskDelay.Store(int64(r.DiskDelay))
	f.gen++
	close(f.changed)
	f.changed = make(chan struct{})
	var toClose []*filteredConn
	for c := range f.conns {
		if f.drop[c.remote] {
			toClose = append(toClose, c)
		}
	}
	f.mu.Unlock()
	for _, c := range toClose {
		c.Close()
	}
}

// generation returns the rules' generation and a channel closed when they
// next change.
func (f *faultFilter) generation() (uint64, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.gen, f.changed
}

// waitUntil waits until due, unless the rules change from generation gen
// (or already have) or stop closes. It reports whether it waited in full.
func (f *faultFilter) waitUntil(due time.Time, gen uint64, stop <-chan struct{}) bool {
	now, changed := f.generation()
	d := time.Until(due)
	if now != gen || d <= 0 {
		return d <= 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-changed:
	case <-stop:
	}
	return false
}

// rules returns the rules in force (dropped addresses sorted).
func (f *faultFilter) rules() faultRules {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r := faultRules{Drop: []string{}, Links: map[string]LinkFault{}, Corrupt: f.corrupt, DiskDelay: time.Duration(f.diskDelay.Load())}
	for a := range f.drop {
		r.Drop = append(r.Drop, a)
	}
	sort.Strings(r.Drop)
	for a, l := range f.links {
		r.Links[a] = l.LinkFault
	}
	return r
}

func (f *faultFilter) dropped(addr string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.drop[addr]
}

// route returns what happens to traffic to addr: dropped, or shaped by
// the link returned (nil: untouched), and the rules' generation.
func (f *faultFilter) route(addr string) (l *link, drop bool, gen uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.links[addr], f.drop[addr], f.gen
}

func (f *faultFilter) corrupting() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.corrupt
}

// wrap tracks an outbound connection to remote so it can be cut or shaped.
func (f *faultFilter) wrap(c net.Conn, remote string) net.Conn {
	fc := &filteredConn{Conn: c, remote: remote, f: f, done: make(chan struct{})}
	f.mu.Lock()
	f.conns[fc] = struct{}{}
	f.mu.Unlock()
	return fc
}

func (f *faultFilter) forget(c *filteredConn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// filteredConn applies the filter to what this node writes to remote. A
// shaped write is queued with its due time and written by a goroutine in
// order, so a delayed link still pipelines (latency, not a throughput
// cap). While writes are queued, every later write queues behind them;
// once the queue is empty and the link unshaped, writes go straight out.
// A full queue holds the writer back, as a full send buffer would, until
// the queue moves, the rules change or the connection closes.
type filteredConn struct {
	net.Conn
	remote string
	f      *faultFilter
	once   sync.Once
	done   chan struct{} // closed by Close

	mu      sync.Mutex  // orders writes
	queue   chan queued // nil until the first shaped write
	last    time.Time   // due time of the last shaped write queued
	lastGen uint64      // the rules' generation last was scheduled under
	pending atomic.Int64
	err     atomic.Pointer[error] // the first failed queued write
}

type queued struct {
	b   []byte
	due time.Time
	gen uint64 // the rules' generation it was shaped under
}

func (c *filteredConn) Write(b []byte) (int, error) {
	l, drop, gen := c.f.route(c.remote)
	if drop {
		c.Close()
		return 0, errFaultDrop
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.err.Load(); err != nil {
		return 0, *err
	}
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	idle := c.pending.Load() == 0
	if l == nil && idle {
		return c.Conn.Write(b)
	}
	if idle || gen != c.lastGen {
		c.last, c.lastGen = time.Time{}, gen // what earlier rules scheduled is gone
	}
	// The queue keeps the stream's order; due only says how long to hold
	// a write once its turn has come. An unshaped write queued behind
	// others waits for nothing more.
	due := time.Now()
	if l != nil {
		due = l.schedule(due, len(b))
		if l.lost() {
			due = due.Add(lossPenalty)
		}
		if due.Before(c.last) {
			due = c.last
		}
		c.last = due
	}
	if c.queue == nil {
		c.queue = make(chan queued, 256)
		go c.drain(c.queue)
	}
	c.pending.Add(1)
	select {
	case c.queue <- queued{b: append([]byte(nil), b...), due: due, gen: gen}:
		return len(b), nil
	case <-c.done:
		c.pending.Add(-1)
		return 0, net.ErrClosed
	}
}

// drain writes the queued writes when they are due (at once, when the
// rules they were shaped under have changed since), until Close.
func (c *filteredConn) drain(q <-chan queued) {
	for {
		var w queued
		select {
		case w = <-q:
		case <-c.done:
			return
		}
		if c.err.Load() == nil {
			c.f.waitUntil(w.due, w.gen, c.done)
			if _, err := c.Conn.Write(w.b); err != nil {
				c.err.Store(&err)
				c.Conn.Close()
			}
		}
		c.pending.Add(-1)
	}
}

// Close closes the connection at once, whatever is queued or waiting.
func (c *filteredConn) Close() error {
	err := c.Conn.Close() // first: unblocks a drain stuck in a write
	c.once.Do(func() {
		close(c.done)
		c.f.forget(c)
	})
	return err
}

// streamLayer is Raft's TCP stream layer with the fault filter on dials.
type streamLayer struct {
	net.Listener
	f *faultFilter
}

var _ raft.StreamLayer = (*streamLayer)(nil)

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	addr := string(address)
	if s.f.dropped(addr) {
		return nil, errFaultDrop
	}
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	return s.f.wrap(c, addr), nil
}

// gossipTransport is memberlist's NetTransport with the fault filter on
// packets sent, packets received (UDP source is the peer's gossip address)
// and stream dials. A shaped packet is sent after its delay, or lost.
type gossipTransport struct {
	*memberlist.NetTransport
	f       *faultFilter
	packets chan *memberlist.Packet
}

func newGossipTransport(nt *memberlist.NetTransport, f *faultFilter) *gossipTransport {
	t := &gossipTransport{NetTransport: nt, f: f, packets: make(chan *memberlist.Packet, 256)}
	go t.relay()
	return t
}

func (t *gossipTransport) relay() {
	for p := range t.NetTransport.PacketCh() {
		if t.f.dropped(p.From.String()) {
			continue
		}
		t.packets <- p
	}
}

func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	l, drop, gen := t.f.route(addr)
	if drop || (l != nil && l.lost()) {
		return time.Now(), nil // lost on the wire, as UDP would be
	}
	if l == nil {
		return t.NetTransport.WriteTo(b, addr)
	}
	d := time.Until(l.schedule(time.Now(), len(b)))
	switch {
	case d <= 0:
		return t.NetTransport.WriteTo(b, addr)
	case d > maxPacketQueue:
		return time.Now(), nil // the link's queue is full: dropped
	}
	b = append([]byte(nil), b...)
	time.AfterFunc(d, func() {
		if now, _ := t.f.generation(); now != gen {
			return // its fault was healed: the packet is lost with it
		}
		_, _ = t.NetTransport.WriteTo(b, addr)
	})
	return time.Now(), nil
}

func (t *gossipTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	if t.f.dropped(addr) {
		return nil, errFaultDrop
	}
	c, err := t.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return t.f.wrap(c, addr), nil
}

// slowLogStore is Raft's log store with the filter's disk delay added to
// every write, as a slow disk's fsync would.
type slowLogStore struct {
	raft.LogStore
	f *faultFilter
}

// wait holds a log write back by the disk delay in force, until the rules
// change.
func (s slowLogStore) wait() {
	if d := time.Duration(s.f.diskDelay.Load()); d > 0 {
		gen, _ := s.f.generation()
		s.f.waitUntil(time.Now().Add(d), gen, nil)
	}
}

func (s slowLogStore) StoreLog(l *raft.Log) error {
	s.wait()
	return s.LogStore.StoreLog(l)
}

func (s slowLogStore) StoreLogs(ls []*raft.Log) error {
	s.wait()
	return s.LogStore.StoreLogs(ls)
}

// IsMonotonic passes the wrapped store's promise on to Raft.
func (s slowLogStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
