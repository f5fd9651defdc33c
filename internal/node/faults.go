package node

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// errFaultDrop is returned for traffic the fault filter drops.
var errFaultDrop = errors.New("dropped by the fault filter")

// faultFilter decides, per remote address, whether traffic is dropped or
// delayed. Both ends of a partition install the filter (the driver does),
// so filtering what this node sends and dials is enough to cut a link; on
// a change, live connections to newly blocked addresses are closed.
type faultFilter struct {
	mu      sync.RWMutex
	drop    map[string]bool          // remote addr -> drop
	delay   map[string]time.Duration // remote addr -> delay per write
	corrupt bool                     // serve corrupted blob bytes
	conns   map[*filteredConn]struct{}
	hang    string // debug: requests to this path never answer
}

func newFaultFilter() *faultFilter {
	return &faultFilter{drop: map[string]bool{}, delay: map[string]time.Duration{}, conns: map[*filteredConn]struct{}{}}
}

// set replaces the rules and closes live connections to dropped addresses.
func (f *faultFilter) set(drop []string, delay map[string]time.Duration, corrupt bool) {
	f.mu.Lock()
	f.drop = map[string]bool{}
	for _, a := range drop {
		f.drop[a] = true
	}
	f.delay = delay
	if f.delay == nil {
		f.delay = map[string]time.Duration{}
	}
	f.corrupt = corrupt
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

func (f *faultFilter) dropped(addr string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.drop[addr]
}

func (f *faultFilter) delayFor(addr string) time.Duration {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.delay[addr]
}

func (f *faultFilter) corrupting() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.corrupt
}

// active reports whether any rule is set.
func (f *faultFilter) active() bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.drop) > 0 || len(f.delay) > 0 || f.corrupt
}

// wrap tracks an outbound connection to remote so it can be cut or delayed.
func (f *faultFilter) wrap(c net.Conn, remote string) net.Conn {
	fc := &filteredConn{Conn: c, remote: remote, f: f}
	f.mu.Lock()
	f.conns[fc] = struct{}{}
	f.mu.Unlock()
	return fc
}

type filteredConn struct {
	net.Conn
	remote string
	f      *faultFilter
	once   sync.Once
}

func (c *filteredConn) Write(b []byte) (int, error) {
	if c.f.dropped(c.remote) {
		c.Close()
		return 0, errFaultDrop
	}
	if d := c.f.delayFor(c.remote); d > 0 {
		time.Sleep(d)
	}
	return c.Conn.Write(b)
}

func (c *filteredConn) Close() error {
	c.once.Do(func() {
		c.f.mu.Lock()
		delete(c.f.conns, c)
		c.f.mu.Unlock()
	})
	return c.Conn.Close()
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
// and stream dials.
type gossipTransport struct {
	*memberlist.NetTransport
	f       *faultFilter
	packets chan *memberlist.Packet
	done    chan struct{}
}

func newGossipTransport(nt *memberlist.NetTransport, f *faultFilter) *gossipTransport {
	t := &gossipTransport{NetTransport: nt, f: f, packets: make(chan *memberlist.Packet, 256), done: make(chan struct{})}
	go t.relay()
	return t
}

func (t *gossipTransport) relay() {
	defer close(t.done)
	for p := range t.NetTransport.PacketCh() {
		if t.f.dropped(p.From.String()) {
			continue
		}
		t.packets <- p
	}
}

func (t *gossipTransport) PacketCh() <-chan *memberlist.Packet { return t.packets }

func (t *gossipTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.f.dropped(addr) {
		return time.Now(), nil // lost on the wire, as UDP would be
	}
	if d := t.f.delayFor(addr); d > 0 {
		time.Sleep(d)
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
