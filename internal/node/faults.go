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
	"golang.org/x/time/rate"
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

// link is a LinkFault in force on one remote address.
type link struct {
	LinkFault
	limiter *rate.Limiter // nil: no bandwidth cap
}

func newLink(f LinkFault) *link {
	l := &link{LinkFault: f}
	if f.BandwidthKBPerSec > 0 {
		bps := f.BandwidthKBPerSec * 1000
		// A burst of 1/20 s of traffic (at least one 16 KiB chunk) keeps
		// the rate smooth at the scale of Raft's heartbeats.
		l.limiter = rate.NewLimiter(rate.Limit(bps), max(int(bps/20), 16<<10))
	}
	return l
}

// wait holds a write of n bytes to the bandwidth cap.
func (l *link) wait(n int) {
	if l.limiter == nil {
		return
	}
	burst := l.limiter.Burst()
	for n > 0 {
		chunk := min(n, burst)
		time.Sleep(l.limiter.ReserveN(time.Now(), chunk).Delay())
		n -= chunk
	}
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
type faultFilter struct {
	mu        sync.RWMutex
	drop      map[string]bool  // remote addr -> drop
	links     map[string]*link // remote addr -> shaping
	corrupt   bool             // serve corrupted blob bytes
	conns     map[*filteredConn]struct{}
	diskDelay atomic.Int64 // ns added to every Raft log write
}

func newFaultFilter() *faultFilter {
	return &faultFilter{drop: map[string]bool{}, links: map[string]*link{}, conns: map[*filteredConn]struct{}{}}
}

// faultRules is everything the filter can apply, by remote address.
type faultRules struct {
	Drop      []string
	Links     map[string]LinkFault
	Corrupt   bool
	DiskDelay time.Duration
}

// set replaces the rules and closes live connections to dropped addresses.
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
// the link returned (nil: untouched).
func (f *faultFilter) route(addr string) (l *link, drop bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.links[addr], f.drop[addr]
}

func (f *faultFilter) corrupting() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.corrupt
}

// wrap tracks an outbound connection to remote so it can be cut or shaped.
func (f *faultFilter) wrap(c net.Conn, remote string) net.Conn {
	fc := &filteredConn{Conn: c, remote: remote, f: f}
	f.mu.Lock()
	f.conns[fc] = struct{}{}
	f.mu.Unlock()
	return fc
}

// filteredConn applies the filter to what this node writes to remote. A
// shaped write is queued with its due time and written by a goroutine in
// order, so a delayed link still pipelines (latency, not a throughput
// cap); once a connection has queued, every later write queues too.
type filteredConn struct {
	net.Conn
	remote string
	f      *faultFilter
	once   sync.Once

	mu     sync.Mutex
	queue  chan queued // nil until the first shaped write
	last   time.Time   // due time of the last queued write
	closed bool
	err    atomic.Pointer[error] // the first failed queued write
}

type queued struct {
	b   []byte
	due time.Time
}

func (c *filteredConn) Write(b []byte) (int, error) {
	l, drop := c.f.route(c.remote)
	if drop {
		c.Close()
		return 0, errFaultDrop
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if l == nil && c.queue == nil {
		return c.Conn.Write(b)
	}
	if c.closed {
		return 0, net.ErrClosed
	}
	if err := c.err.Load(); err != nil {
		return 0, *err
	}
	due := time.Now()
	if l != nil {
		l.wait(len(b))
		due = due.Add(l.delay())
		if l.lost() {
			due = due.Add(lossPenalty)
		}
	}
	if due.Before(c.last) {
		due = c.last // a stream keeps its order
	}
	c.last = due
	if c.queue == nil {
		c.queue = make(chan queued, 256)
		go c.drain(c.queue)
	}
	c.queue <- queued{b: append([]byte(nil), b...), due: due}
	return len(b), nil
}

// drain writes the queued writes when they are due, until the queue closes.
func (c *filteredConn) drain(q <-chan queued) {
	for w := range q {
		if c.err.Load() != nil {
			continue // failed: discard the rest
		}
		if d := time.Until(w.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := c.Conn.Write(w.b); err != nil {
			c.err.Store(&err)
			c.Conn.Close()
		}
	}
}

func (c *filteredConn) Close() error {
	err := c.Conn.Close() // first: unblocks a drain stuck in a write
	c.once.Do(func() {
		c.f.mu.Lock()
		delete(c.f.conns, c)
		c.f.mu.Unlock()
		c.mu.Lock()
		c.closed = true
		if c.queue != nil {
			close(c.queue)
		}
		c.mu.Unlock()
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
	l, drop := t.f.route(addr)
	if drop || (l != nil && l.lost()) {
		return time.Now(), nil // lost on the wire, as UDP would be
	}
	if l == nil {
		return t.NetTransport.WriteTo(b, addr)
	}
	l.wait(len(b))
	if d := l.delay(); d > 0 {
		b = append([]byte(nil), b...)
		time.AfterFunc(d, func() { _, _ = t.NetTransport.WriteTo(b, addr) })
		return time.Now(), nil
	}
	return t.NetTransport.WriteTo(b, addr)
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

func (s slowLogStore) wait() {
	if d := time.Duration(s.f.diskDelay.Load()); d > 0 {
		time.Sleep(d)
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
