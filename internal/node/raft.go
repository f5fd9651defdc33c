// Raft: the log store and transport, applying commands on the leader,
// read index for linearizable reads, and finding the leader.

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
)

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

	store, err := openRaftStore(cfg)
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
	if err == nil && !existing && !cfg.Bootstrap && cfg.Join == "" {
		err = fmt.Errorf("--data-dir %s holds no Raft state, and neither --bootstrap (start a new cluster) nor --join URL (join one) was given: this node could never have a leader", cfg.DataDir)
	}
	if err != nil {
		store.Close()
		n.trans.Close()
		return err
	}
	// The leader sends recent entries to followers from memory, not by
	// reading each back from bolt (hashicorp/raft's LogCache).
	logs, err := raft.NewLogCache(logCacheEntries, slowLogStore{LogStore: store, f: n.faults})
	if err != nil {
		store.Close()
		n.trans.Close()
		return err
	}
	r, err := raft.NewRaft(rc, n.fsm, logs, store, snaps, n.trans)
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
	n.electAloneNow()
	return nil
}

// electAloneNow starts an election at once when this node is the only
// voter of its configuration (a new cluster, or a one-node cluster
// restarted), instead of after a heartbeat timeout of hearing nothing from
// a leader that cannot exist: a one-node cluster is ready in milliseconds
// with the long timings that keep leaders on a busy host.
//
// hashicorp/raft has no call for this; ReloadConfig does it. Lowering the
// heartbeat timeout wakes the follower loop with its timer at zero; with no
// contact ever made, the node becomes a candidate, and alone it wins. The
// timeout is put back at once: the wake-up is already queued.
func (n *Node) electAloneNow() {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	voters := 0
	self := false
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
			self = self || s.ID == raft.ServerID(n.cfg.ID)
		}
	}
	if voters != 1 || !self {
		return
	}
	rc := n.raft.ReloadableConfig()
	lower := rc
	lower.HeartbeatTimeout = max(rc.HeartbeatTimeout-time.Millisecond, n.cfg.LeaderLease)
	if lower.HeartbeatTimeout == rc.HeartbeatTimeout {
		return // lease equals the heartbeat timeout: nothing lower is valid
	}
	if err := n.raft.ReloadConfig(lower); err != nil {
		n.log.Warn("starting the election early", "err", err)
		return
	}
	if err := n.raft.ReloadConfig(rc); err != nil {
		n.log.Warn("restoring the heartbeat timeout", "err", err)
	}
}

// waitLeader returns once this node knows a leader: until then it cannot
// serve a write, so it is not ready. It logs what it waits for every 5 s.
func (n *Node) waitLeader(ctx context.Context) error {
	began := time.Now()
	next := began.Add(5 * time.Second)
	for {
		if addr, _ := n.raft.LeaderWithID(); addr != "" {
			return nil
		}
		if now := time.Now(); now.After(next) {
			n.log.Warn("not ready: no Raft leader yet", "waited", now.Sub(began).Round(time.Second), "state", n.raft.State().String())
			next = now.Add(5 * time.Second)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no Raft leader was known before the node was stopped: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
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

// errNotApplied marks a failed write that certainly did not reach the
// Raft log (refused before it was sent or enqueued). Its answer carries
// "X-Not-Applied: true", so a client checking linearizability need not
// treat it as possibly applied.
var errNotApplied = errors.New("the write was not applied")

// notApplied marks err as a write that was certainly not applied.
func notApplied(err error) error { return fmt.Errorf("%w (%w)", err, errNotApplied) }

// logCacheEntries is how many recent log entries stay in memory.
const logCacheEntries = 1024

// ackBeforeCommitDelay is how long --debug-ack-before-commit holds an
// acknowledged put back from Raft.
const ackBeforeCommitDelay = 50 * time.Millisecond

// applyLocal applies cmd on this node, which must lead.
func (n *Node) applyLocal(cmd Command) (ApplyResult, error) {
	if err := cmd.validate(); err != nil {
		return ApplyResult{}, err
	}
	data, err := encodeCommand(cmd)
	if err != nil {
		return ApplyResult{}, err
	}
	return n.applyEncoded(data)
}

// applyEncoded appends a command as encodeCommand wrote it to the log and
// waits for the FSM's answer; a command a follower forwarded arrives here
// as it will be stored, decoded once, by the FSM.
func (n *Node) applyEncoded(data []byte) (ApplyResult, error) {
	if n.cfg.AckBeforeCommit && isPut(data) {
		// Debug: the broken pattern of acknowledging before committing.
		// The version guessed is the index the entry would get now.
		next := n.raft.LastIndex() + 1
		time.AfterFunc(ackBeforeCommitDelay, func() { n.raft.Apply(data, 5*time.Second) })
		return ApplyResult{Version: next}, nil
	}
	f := n.raft.Apply(data, 5*time.Second)
	if err := f.Error(); err != nil {
		switch {
		case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrEnqueueTimeout):
			// Raft refused it before appending it to the log.
			return ApplyResult{}, notApplied(errNoLeader)
		case errors.Is(err, raft.ErrLeadershipLost):
			return ApplyResult{}, errNoLeader // appended, perhaps committed
		}
		return ApplyResult{}, err
	}
	res, _ := f.Response().(ApplyResult)
	return res, res.Err
}

// leaderReadIndex returns the read index of a linearizable read on this
// leader: its commit index, noted before leadership is verified. A leader
// new to its term may not yet know which of the entries it holds its
// predecessor committed (and acknowledged): until it has committed an
// entry of its own term, its commit index can lag a write already
// acknowledged, and a read at it would miss that write (Raft
// dissertation, 6.4). So the first read of a term commits a command that
// changes nothing, opTermStart. A command, not raft's Barrier: the FSM
// sees commands only, and reads wait for the FSM to reach the read index,
// which an index of raft's own entries would hold back until the next
// write.
func (n *Node) leaderReadIndex() (uint64, error) {
	term := n.raft.CurrentTerm()
	if n.readyTerm.Load() != term {
		if _, err := n.applyLocal(Command{Op: opTermStart}); err != nil {
			return 0, errNoLeader
		}
		n.readyTerm.Store(term)
	}
	idx := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return 0, errNoLeader
	}
	return idx, nil
}

// readIndex waits until this leader's FSM reflects every write committed
// before the call: the linearizable read path.
func (n *Node) readIndex(ctx context.Context) error {
	idx, err := n.leaderReadIndex()
	if err != nil {
		return err
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
	id, api, ok := n.leaderAPI()
	if !ok {
		return errNoLeader
	}
	fctx, cancel := context.WithTimeout(ctx, n.cfg.ForwardTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, api+"/api/v1/internal/read-index", nil)
	if err != nil {
		return err
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return leaderErr(id, api, err)
	}
	defer resp.Body.Close()
	var ri struct {
		Index uint64 `json:"index"`
	}
	switch derr := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&ri); {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return errNoLeader // it lost its leadership
	case resp.StatusCode != http.StatusOK:
		return &upstreamStatus{Code: resp.StatusCode, Msg: "read index"}
	case derr != nil:
		return &leaderError{ID: id, API: api, Code: http.StatusBadGateway, Err: fmt.Errorf("undecodable read index: %v", derr)}
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

// raftStore is Raft's log and stable store.
type raftStore interface {
	raft.LogStore
	raft.StableStore
	Close() error
}

// openRaftStore opens the Raft log: hashicorp/raft-wal, an append-only
// log with one fsync per batch of entries, when the node syncs its log
// (bbolt, raft-boltdb's store, syncs twice per batch: the pages, then its
// meta page); raft-boltdb without syncing when --fsync=false.
func openRaftStore(cfg Config) (raftStore, error) {
	if !cfg.Fsync {
		return raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.DataDir, "raft.db"), NoSync: true})
	}
	dir := filepath.Join(cfg.DataDir, "wal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return wal.Open(dir)
}
