package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

// Ready is the line a node prints on stdout once it serves.
type Ready struct {
	Event  string `json:"event"` // "ready"
	ID     string `json:"id"`
	API    string `json:"api"`    // http://host:port
	Raft   string `json:"raft"`   // host:port
	Gossip string `json:"gossip"` // host:port
	PID    int    `json:"pid"`
}

// Node is one running reference node.
type Node struct {
	cfg Config
	log *slog.Logger

	fsm    *fsm
	raft   *raft.Raft
	store  raftStore
	trans  *raft.NetworkTransport
	ml     *memberlist.Memberlist
	gossip *gossipTransport
	bcast  *memberlist.TransmitLimitedQueue
	// meet carries the gossip addresses of members registered through
	// Raft, for meetRegistered.
	meet     chan NodeRecord
	faults   *faultFilter
	blobs    *blobStore
	infer    *inferencer
	receipts *receipts
	metrics  *nodeMetrics

	apiURL, raftAddr, gossipAddr string
	client                       *http.Client // node-to-node: forwarding, proxying, blob ranges
	leaderChanges                atomic.Int64
	readyTerm                    atomic.Uint64 // the term whose leader (this node) has committed an entry of it
	requests, serverErrors       atomic.Int64  // API requests served, and those answered 5xx
	connsOpened                  atomic.Int64  // API connections accepted
	started                      time.Time

	leakMu sync.Mutex
	leaked [][]byte // --debug-leak-bytes-per-s
}

// Run starts a node, prints its ready line to stdout and serves until ctx
// is cancelled, then shuts down within about 2 seconds.
func Run(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.ParentPID > 0 {
		go watchParent(ctx, cancel, cfg.ParentPID)
	}
	n := &Node{cfg: cfg, log: log, fsm: newFSM(), faults: newFaultFilter(), receipts: newReceipts(10000),
		started: time.Now()}
	// Node-to-node HTTP (forwarding, proxying, blob ranges) dials through
	// the fault filter, so a partition cuts it as it cuts Raft and gossip.
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	n.client = &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if n.faults.dropped(addr) {
				return nil, errFaultDrop
			}
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return n.faults.wrap(c, addr), nil
		},
	}}
	n.metrics = newNodeMetrics(n)
	var err error
	if n.blobs, err = newBlobStore(filepath.Join(cfg.DataDir, "blobs")); err != nil {
		return err
	}
	n.fsm.onModelDrop = n.blobGC
	n.meet = make(chan NodeRecord, 256)
	n.fsm.onNodeRegister = func(r NodeRecord) {
		if r.ID != cfg.ID && r.Gossip != "" {
			select {
			case n.meet <- r:
			default: // memberlist's push-pull exchange still finds it
			}
		}
	}
	n.infer = newInferencer(n)

	apiLn, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.APIPort)))
	if err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	n.apiURL = "http://" + apiLn.Addr().String()
	srv := &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				n.connsOpened.Add(1)
			}
		}}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(apiLn) }()

	if err := n.startRaft(); err != nil {
		apiLn.Close()
		return err
	}
	if err := n.startGossip(); err != nil {
		n.stopRaft()
		apiLn.Close()
		return err
	}
	go n.watchLeader(ctx)
	go n.reconcile(ctx)
	go n.meetRegistered(ctx)
	if cfg.LeakBytesPerSec > 0 {
		go n.leak(ctx, cfg.LeakBytesPerSec)
	}

	if cfg.Join != "" {
		if err := n.joinCluster(ctx); err != nil {
			n.shutdown(ctx, srv)
			return err
		}
	} else {
		go n.registerSelfWhenLeader(ctx)
	}
	// Ready means able to serve a write: a leader is known.
	if err := n.waitLeader(ctx); err != nil {
		n.shutdown(ctx, srv)
		return err
	}

	ready, _ := json.Marshal(Ready{Event: "ready", ID: cfg.ID, API: n.apiURL, Raft: n.raftAddr, Gossip: n.gossipAddr, PID: os.Getpid()})
	fmt.Fprintln(stdout, string(ready))
	log.Info("ready", "api", n.apiURL, "raft", n.raftAddr, "gossip", n.gossipAddr)

	var serveFailed error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		serveFailed = fmt.Errorf("the API server stopped: %w", err)
		log.Error("api server stopped", "err", err)
	}
	n.shutdown(ctx, srv)
	return serveFailed
}

// leak retains perSec bytes of heap every second until ctx ends
// (--debug-leak-bytes-per-s): the memory scenario's negative control.
func (n *Node) leak(ctx context.Context, perSec int) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b := make([]byte, perSec/10)
			for i := range b {
				b[i] = byte(i) // touch it: a page never written may stay unbacked
			}
			n.leakMu.Lock()
			n.leaked = append(n.leaked, b)
			n.leakMu.Unlock()
		}
	}
}

func watchParent(ctx context.Context, cancel context.CancelFunc, ppid int) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != ppid {
				cancel()
				return
			}
		}
	}
}

// shutdown stops serving, leaves gossip and stops Raft, within about 2 s.
// ctx is usually already cancelled; only its values are used.
func (n *Node) shutdown(ctx context.Context, srv *http.Server) {
	n.infer.stop()
	shutCtx, c2 := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	if err := srv.Shutdown(shutCtx); err != nil {
		srv.Close()
	}
	c2()
	if n.ml != nil {
		_ = n.ml.Leave(200 * time.Millisecond)
		_ = n.ml.Shutdown()
	}
	n.stopRaft()
}
