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
	rafts  []*raft.Raft
	stores []*raftboltdb.BoltStore
	trans  []*raft.NetworkTransport
	layers []*tcpLayer
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

func startBareRaft(tb testing.TB, n int) *bareRaft {
	tb.Helper()
	b := &bareRaft{}
	var servers []raft.Server
	for i := range n {
		dir := tb.TempDir()
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		if err != nil {
			tb.Fatal(err)
		}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, hclog.NewNullLogger())
		if err != nil {
			tb.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		layer := &tcpLayer{Listener: ln}
		b.layers = append(b.layers, layer)
		trans := raft.NewNetworkTransportWithLogger(layer, 8, 5*time.Second, hclog.NewNullLogger())
		rc := raft.DefaultConfig()
		rc.LocalID = raft.ServerID(fmt.Sprintf("b%d", i+1))
		rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 300*time.Millisecond, 300*time.Millisecond, 150*time.Millisecond
		rc.CommitTimeout, rc.MaxAppendEntries, rc.BatchApplyCh = 5*time.Millisecond, 256, true
		rc.Logger = hclog.NewNullLogger()
		logs, err := raft.NewLogCache(1024, store) // as the node, and as Raft's users do
		if err != nil {
			tb.Fatal(err)
		}
		r, err := raft.NewRaft(rc, &setFSM{kv: map[string][]byte{}}, logs, store, snaps, trans)
		if err != nil {
			tb.Fatal(err)
		}
		b.rafts, b.stores, b.trans = append(b.rafts, r), append(b.stores, store), append(b.trans, trans)
		servers = append(servers, raft.Server{ID: rc.LocalID, Address: trans.LocalAddr()})
	}
	tb.Cleanup(b.stop)
	if err := b.rafts[0].BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.leader() == nil {
		if time.Now().After(deadline) {
			tb.Fatal("the bare Raft cluster elected no leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

func (b *bareRaft) leader() *raft.Raft {
	for _, r := range b.rafts {
		if r.State() == raft.Leader {
			return r
		}
	}
	return nil
}

func (b *bareRaft) stop() {
	for _, r := range b.rafts {
		_ = r.Shutdown().Error()
	}
	for i := range b.rafts {
		_ = b.trans[i].Close()
		b.layers[i].closeConns() // the transport leaves its pooled connections open
		_ = b.stores[i].Close()
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
