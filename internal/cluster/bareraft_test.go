package cluster

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// bareRaft is the yardstick of the reference node's write path: three
// hashicorp/raft nodes in this process with raft-boltdb (fsync on) and
// the network transport over loopback, configured as odbench node
// configures its Raft (a log cache in front of bolt included), applying
// commands straight to the leader: Raft and its disk, without HTTP, the
// node's command encoding or forwarding.
type bareRaft struct {
	nodes []*bareNode
}

// bareNode is one server of a bare Raft cluster.
type bareNode struct {
	r     *raft.Raft
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	layer *tcpLayer
	id    raft.ServerID
}

// setFSM applies commands to a map, as the node's FSM does for a put.
type setFSM struct {
	mu sync.Mutex
	kv map[string][]byte
	n  uint64
}

func (f *setFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	f.kv[fmt.Sprint(l.Index%10_000)] = l.Data
	f.n++
	f.mu.Unlock()
	return nil
}
func (f *setFSM) Snapshot() (raft.FSMSnapshot, error) { return noSnap{}, nil }
func (f *setFSM) Restore(r io.ReadCloser) error       { return r.Close() }

type noSnap struct{}

func (noSnap) Persist(s raft.SnapshotSink) error { return s.Close() }
func (noSnap) Release()                          {}

// newBareNode starts server id with its state in dir, listening on a free
// loopback port, not yet part of any cluster.
func newBareNode(dir, id string) (*bareNode, error) {
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
	if err != nil {
		store.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		return nil, err
	}
	b := &bareNode{store: store, layer: &tcpLayer{Listener: ln}, id: raft.ServerID(id)}
	b.trans = raft.NewNetworkTransportWithLogger(b.layer, 8, 5*time.Second, hclog.NewNullLogger())
	rc := raft.DefaultConfig()
	rc.LocalID = b.id
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
	rc.CommitTimeout, rc.MaxAppendEntries, rc.BatchApplyCh = 5*time.Millisecond, 256, true
	rc.SnapshotInterval, rc.SnapshotThreshold = 30*time.Second, 16384 // the node's defaults
	rc.Logger = hclog.NewNullLogger()
	logs, err := raft.NewLogCache(1024, store) // as the node, and as Raft's users do
	if err == nil {
		b.r, err = raft.NewRaft(rc, &setFSM{kv: map[string][]byte{}}, logs, store, snaps, b.trans)
	}
	if err != nil {
		b.trans.Close()
		store.Close()
		return nil, err
	}
	return b, nil
}

func (b *bareNode) server() raft.Server {
	return raft.Server{ID: b.id, Address: b.trans.LocalAddr()}
}

func (b *bareNode) stop() {
	_ = b.r.Shutdown().Error()
	_ = b.trans.Close()
	b.layer.closeConns() // the transport leaves its pooled connections open
	_ = b.store.Close()
}

func startBareRaft(tb testing.TB, n int) *bareRaft {
	tb.Helper()
	b := &bareRaft{}
	tb.Cleanup(b.stop)
	var servers []raft.Server
	for i := range n {
		node, err := newBareNode(tb.TempDir(), fmt.Sprintf("b%d", i+1))
		if err != nil {
			tb.Fatal(err)
		}
		b.nodes = append(b.nodes, node)
		servers = append(servers, node.server())
	}
	if err := b.nodes[0].r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		tb.Fatal(err)
	}
	awaitLeader(tb, "the bare Raft cluster", func() bool { return b.leader() != nil })
	return b
}

// awaitLeader waits up to 10 s for elected to hold.
func awaitLeader(tb testing.TB, what string, elected func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); !elected(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Fatal(what + " elected no leader")
		}
	}
}

func (b *bareRaft) leader() *raft.Raft {
	for _, n := range b.nodes {
		if n.r.State() == raft.Leader {
			return n.r
		}
	}
	return nil
}

func (b *bareRaft) stop() {
	for _, n := range b.nodes {
		n.stop()
	}
}

// tcpLayer is Raft's stream layer over plain TCP; it remembers the
// connections it dialled, to close them when the cluster stops.
type tcpLayer struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (t *tcpLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err == nil {
		t.mu.Lock()
		t.conns = append(t.conns, c)
		t.mu.Unlock()
	}
	return c, err
}

func (t *tcpLayer) closeConns() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.conns {
		_ = c.Close()
	}
	t.conns = nil
}
