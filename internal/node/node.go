package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// Config configures one node. The CLI fills it from flags.
type Config struct {
	ID        string
	DataDir   string
	Bind      string // IP to bind every listener to
	Bootstrap bool   // start a new cluster with this node as its only voter
	Join      string // API URL of any member to join through
	// Ports; 0 picks a free one (a restart passes the previous ones).
	APIPort, RaftPort, GossipPort int

	Fsync            bool
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	LeaderLease      time.Duration
	SnapshotInterval time.Duration
	SnapshotEntries  uint64

	Slots             int
	TokenDelay        time.Duration // per generated token
	PromptTokenDelay  time.Duration // per prompt token
	ModelLoadPerGB    time.Duration // load time of an uncached model, per GB (plus a fixed 50 ms)
	ModelCache        int           // models kept "loaded"
	Policy            string        // round_robin | least_connections | random
	ReplicationFactor int
	DefaultNumPredict int

	// Debug knobs for odbench's own tests: each breaks the node in one
	// known way, so a check can be shown to fail.
	ExtraLatency    time.Duration // added to every API request
	HangPath        string        // requests to this path never answer (until shutdown)
	LeakBytesPerSec int           // heap retained forever, per second
	StuckRoundRobin bool          // round robin always picks the first candidate

	// ParentPID: exit when the parent process changes (odbench died).
	ParentPID int
	// Debug turns on Raft's and memberlist's own logs.
	Debug bool
}

// DefaultConfig returns defaults suited to loopback clusters.
func DefaultConfig() Config {
	return Config{
		Bind: "127.0.0.1", Fsync: true,
		HeartbeatTimeout: 300 * time.Millisecond, ElectionTimeout: 300 * time.Millisecond,
		LeaderLease: 150 * time.Millisecond, SnapshotInterval: 30 * time.Second, SnapshotEntries: 16384,
		Slots: 4, TokenDelay: 5 * time.Millisecond, PromptTokenDelay: 200 * time.Microsecond,
		ModelLoadPerGB: 500 * time.Millisecond, ModelCache: 2, Policy: "round_robin",
		ReplicationFactor: 1, DefaultNumPredict: 16,
	}
}

// Validate checks the configuration, reporting every problem.
func (c Config) Validate() error {
	var errs []error
	if c.ID == "" {
		errs = append(errs, errors.New("--id: must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir: must not be empty"))
	}
	if c.Bootstrap && c.Join != "" {
		errs = append(errs, errors.New("--bootstrap and --join: give one, not both"))
	}
	if c.Slots < 1 {
		errs = append(errs, fmt.Errorf("--slots: must be at least 1, but is %d", c.Slots))
	}
	if c.ModelCache < 1 {
		errs = append(errs, fmt.Errorf("--model-cache: must be at least 1, but is %d", c.ModelCache))
	}
	if c.ReplicationFactor < 1 {
		errs = append(errs, fmt.Errorf("--replication-factor: must be at least 1, but is %d", c.ReplicationFactor))
	}
	switch c.Policy {
	case "round_robin", "least_connections", "random":
	default:
		errs = append(errs, fmt.Errorf("--policy: must be round_robin, least_connections or random, but is %q", c.Policy))
	}
	if c.LeakBytesPerSec < 0 {
		errs = append(errs, fmt.Errorf("--debug-leak-bytes-per-s: must not be negative, but is %d", c.LeakBytesPerSec))
	}
	if c.HeartbeatTimeout < 5*time.Millisecond || c.ElectionTimeout < 5*time.Millisecond {
		errs = append(errs, errors.New("--heartbeat-timeout and --election-timeout: must be at least 5ms"))
	}
	return errors.Join(errs...)
}

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

	fsm      *fsm
	raft     *raft.Raft
	store    *raftboltdb.BoltStore
	trans    *raft.NetworkTransport
	ml       *memberlist.Memberlist
	gossip   *gossipTransport
	bcast    *memberlist.TransmitLimitedQueue
	faults   *faultFilter
	blobs    *blobStore
	infer    *inferencer
	receipts *receipts
	metrics  *nodeMetrics

	apiURL, raftAddr, gossipAddr string
	client                       *http.Client // node-to-node: forwarding, proxying, blob ranges
	leaderChanges                atomic.Int64
	requests, serverErrors       atomic.Int64 // API requests served, and those answered 5xx
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
	n.faults.hang = cfg.HangPath
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
	n.infer = newInferencer(n)

	apiLn, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.APIPort)))
	if err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	n.apiURL = "http://" + apiLn.Addr().String()
	srv := &http.Server{Handler: n.routes(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
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

	ready, _ := json.Marshal(Ready{Event: "ready", ID: cfg.ID, API: n.apiURL, Raft: n.raftAddr, Gossip: n.gossipAddr, PID: os.Getpid()})
	fmt.Fprintln(stdout, string(ready))
	log.Info("ready", "api", n.apiURL, "raft", n.raftAddr, "gossip", n.gossipAddr)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("api server stopped", "err", err)
	}
	n.shutdown(ctx, srv)
	return nil
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

func (n *Node) startRaft() error {
	cfg := n.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLease
	rc.CommitTimeout = 5 * time.Millisecond
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.SnapshotThreshold = cfg.SnapshotEntries
	rc.MaxAppendEntries = 256
	rc.BatchApplyCh = true
	level := hclog.Warn
	if cfg.Debug {
		level = hclog.Debug
	}
	rc.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Output: os.Stderr, Level: level})

	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db"), NoSync: !cfg.Fsync})
	if err != nil {
		return fmt.Errorf("raft store: %w", err)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, rc.Logger)
	if err != nil {
		store.Close()
		return fmt.Errorf("raft snapshots: %w", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.RaftPort)))
	if err != nil {
		store.Close()
		return fmt.Errorf("raft listener: %w", err)
	}
	n.raftAddr = ln.Addr().String()
	n.trans = raft.NewNetworkTransportWithLogger(&streamLayer{Listener: ln, f: n.faults}, 8, 5*time.Second, rc.Logger)
	existing, err := raft.HasExistingState(store, store, snaps)
	if err != nil {
		store.Close()
		n.trans.Close()
		return err
	}
	r, err := raft.NewRaft(rc, n.fsm, store, store, snaps, n.trans)
	if err != nil {
		store.Close()
		n.trans.Close()
		return fmt.Errorf("raft: %w", err)
	}
	n.raft, n.store = r, store
	if cfg.Bootstrap && !existing {
		f := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: n.trans.LocalAddr()}}})
		if err := f.Error(); err != nil {
			return fmt.Errorf("raft bootstrap: %w", err)
		}
	}
	return nil
}

func (n *Node) stopRaft() {
	done := make(chan struct{})
	go func() {
		_ = n.raft.Shutdown().Error()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		n.log.Warn("raft shutdown took over 1s; closing the store anyway")
	}
	n.trans.Close()
	n.store.Close()
}

func (n *Node) startGossip() error {
	cfg := n.cfg
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{cfg.Bind}, BindPort: cfg.GossipPort,
		Logger: nil,
	})
	if err != nil {
		return fmt.Errorf("gossip transport: %w", err)
	}
	port := nt.GetAutoBindPort()
	n.gossip = newGossipTransport(nt, n.faults)
	mc := memberlist.DefaultLocalConfig()
	mc.Name = cfg.ID
	mc.BindAddr, mc.BindPort = cfg.Bind, port
	mc.AdvertiseAddr, mc.AdvertisePort = cfg.Bind, port
	mc.Transport = n.gossip
	mc.Delegate = &delegate{n: n}
	mc.LogOutput = io.Discard
	if cfg.Debug {
		mc.LogOutput = os.Stderr
	}
	mc.GossipInterval = 50 * time.Millisecond
	ml, err := memberlist.Create(mc)
	if err != nil {
		nt.Shutdown()
		return fmt.Errorf("memberlist: %w", err)
	}
	n.ml = ml
	n.gossipAddr = net.JoinHostPort(cfg.Bind, strconv.Itoa(port))
	// Each broadcast goes out 6 × ceil(log10(n+1)) times. With 3 (memberlist's
	// own default for a LAN is 4) a 3-node cluster on one loaded host left
	// about one broadcast in 200 undelivered after 5 s: a lost UDP packet
	// with no retransmission left to cover it.
	n.bcast = &memberlist.TransmitLimitedQueue{NumNodes: ml.NumMembers, RetransmitMult: 6}
	return nil
}

// joinRequest is the body of POST /api/v1/cluster/join.
type joinRequest struct {
	ID     string `json:"id"`
	API    string `json:"api"`
	Raft   string `json:"raft"`
	Gossip string `json:"gossip"`
}

// joinResponse lists the members' gossip addresses to join memberlist through.
type joinResponse struct {
	Leader string   `json:"leader"`
	Gossip []string `json:"gossip"`
}

// joinCluster asks the member at cfg.Join to add this node (retrying while
// the cluster elects a leader), then joins gossip.
func (n *Node) joinCluster(ctx context.Context) error {
	body, _ := json.Marshal(joinRequest{ID: n.cfg.ID, API: n.apiURL, Raft: n.raftAddr, Gossip: n.gossipAddr})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.cfg.Join+"/api/v1/cluster/join", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := n.client.Do(req)
		if err == nil {
			var jr joinResponse
			derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&jr)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && derr == nil {
				if len(jr.Gossip) > 0 {
					if _, err := n.ml.Join(jr.Gossip); err != nil {
						n.log.Warn("gossip join", "err", err)
					}
				}
				return nil
			}
			last = fmt.Errorf("join through %s: HTTP %d", n.cfg.Join, resp.StatusCode)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("joining the cluster through %s: %w", n.cfg.Join, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// registerSelfWhenLeader registers the bootstrap node in the node registry
// once it leads (joiners are registered by the leader that adds them).
func (n *Node) registerSelfWhenLeader(ctx context.Context) {
	for {
		if n.raft.State() == raft.Leader {
			if _, err := n.applyLocal(Command{Op: opNodeRegister, Node: n.record()}); err == nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (n *Node) record() *NodeRecord {
	return &NodeRecord{ID: n.cfg.ID, API: n.apiURL, Raft: n.raftAddr, Gossip: n.gossipAddr}
}

func (n *Node) watchLeader(ctx context.Context) {
	ch := make(chan raft.Observation, 16)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			n.leaderChanges.Add(1)
		}
	}
}

// errNoLeader is returned when a write finds no leader.
var errNoLeader = errors.New("no raft leader")

// applyLocal applies cmd on this node, which must lead.
func (n *Node) applyLocal(cmd Command) (ApplyResult, error) {
	data, err := json.Marshal(cmd)
	if err != nil {
		return ApplyResult{}, err
	}
	f := n.raft.Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return ApplyResult{}, errNoLeader
		}
		return ApplyResult{}, err
	}
	res, _ := f.Response().(ApplyResult)
	return res, res.Err
}

// readIndex waits until this leader's FSM reflects every write committed
// before the call: the linearizable read path.
func (n *Node) readIndex(ctx context.Context) error {
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return errNoLeader
	}
	for n.fsm.AppliedIndex() < idx {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Microsecond):
		}
	}
	return nil
}

// catchUp makes this node's FSM reflect every write committed before the
// call (a read index): on the leader directly, on a follower by asking the
// leader for its verified commit index and waiting to apply it.
func (n *Node) catchUp(ctx context.Context) error {
	if n.isLeader() {
		return n.readIndex(ctx)
	}
	_, api, ok := n.leaderAPI()
	if !ok {
		return errNoLeader
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/api/v1/internal/read-index", nil)
	if err != nil {
		return err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return errNoLeader
	}
	defer resp.Body.Close()
	var ri struct {
		Index uint64 `json:"index"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ri) != nil {
		return errNoLeader
	}
	for n.fsm.AppliedIndex() < ri.Index {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Microsecond):
		}
	}
	return nil
}

// leaderAPI returns the current leader's API URL.
func (n *Node) leaderAPI() (id, api string, ok bool) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", "", false
	}
	if rec, found := n.fsm.Node(string(lid)); found {
		return rec.ID, rec.API, true
	}
	// The registry may not have the leader yet (a bootstrap node registers
	// itself once it leads); gossip metadata carries every API address.
	for _, m := range n.members() {
		if m.ID == string(lid) && m.Meta.API != "" {
			return m.ID, m.Meta.API, true
		}
	}
	return string(lid), "", false
}

func (n *Node) isLeader() bool { return n.raft.State() == raft.Leader }

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
