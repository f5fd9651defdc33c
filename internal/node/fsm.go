package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Command is one Raft log entry's payload.
type Command struct {
	Op string `json:"op"`
	// KV
	Key           string `json:"key,omitempty"`
	Value         []byte `json:"value,omitempty"`
	ExpectVersion uint64 `json:"expect_version,omitempty"`
	// Models
	Model  *ModelInfo `json:"model,omitempty"`
	NodeID string     `json:"node_id,omitempty"`
	// Node registry
	Node *NodeRecord `json:"node,omitempty"`
}

// Command ops.
const (
	opPut          = "put"
	opDelete       = "delete"
	opCAS          = "cas"
	opModelAdd     = "model_add_replica"
	opModelDrop    = "model_drop_replica"
	opModelDelete  = "model_delete"
	opNodeRegister = "node_register"
	opNodeRemove   = "node_remove"
	opDrain        = "drain"
	opUndrain      = "undrain"
	// opTermStart changes nothing: a leader commits one before the first
	// linearizable read of its term (see leaderReadIndex).
	opTermStart = "term_start"
)

// errUnknownNode: a command names a node the registry does not hold.
var errUnknownNode = errors.New("no registered node")

// errBadCommand marks a command that lacks what its op needs: refused
// before it reaches the log, where every node would have to apply it.
var errBadCommand = errors.New("malformed command")

// validate checks that c carries what its op needs.
func (c Command) validate() error {
	var missing string
	switch c.Op {
	case opPut, opDelete, opCAS, opModelDelete:
		if c.Key == "" {
			missing = "key"
		}
	case opModelAdd:
		if c.Model == nil || c.Model.Name == "" || c.Model.Digest == "" || c.NodeID == "" {
			missing = "model (name, digest) and node_id"
		}
	case opModelDrop:
		if c.Key == "" || c.NodeID == "" {
			missing = "key and node_id"
		}
	case opNodeRegister:
		if c.Node == nil || c.Node.ID == "" {
			missing = "node (with an id)"
		}
	case opNodeRemove, opDrain, opUndrain:
		if c.NodeID == "" {
			missing = "node_id"
		}
	case opTermStart:
	default:
		return fmt.Errorf("%w: unknown op %q", errBadCommand, c.Op)
	}
	if missing != "" {
		return fmt.Errorf("%w: op %q needs %s", errBadCommand, c.Op, missing)
	}
	return nil
}

// KVEntry is one stored value with the Raft index that last wrote it.
type KVEntry struct {
	Value   []byte `json:"value"`
	Version uint64 `json:"version"`
}

// ModelInfo is a model in the registry.
type ModelInfo struct {
	Name      string   `json:"name"`
	Digest    string   `json:"digest"` // "sha256:<hex>"
	SizeBytes int64    `json:"size_bytes"`
	Replicas  []string `json:"replicas"` // node IDs holding the blob
}

// NodeRecord is a cluster member as registered through Raft.
type NodeRecord struct {
	ID      string `json:"id"`
	API     string `json:"api"`
	Raft    string `json:"raft"`
	Gossip  string `json:"gossip"`
	Drained bool   `json:"drained"`
}

// ApplyResult is what Apply returns for a command.
type ApplyResult struct {
	Version uint64
	Err     error
}

// ErrCASConflict is the result of a compare-and-set whose expectation failed.
var ErrCASConflict = fmt.Errorf("compare-and-set conflict")

// fsm is the replicated state machine.
type fsm struct {
	mu     sync.RWMutex
	kv     map[string]KVEntry
	models map[string]*ModelInfo
	nodes  map[string]*NodeRecord
	// onModelDrop is told when a model or replica leaves the registry, so
	// the node can delete blob files nobody references (outside the lock).
	onModelDrop func(digest string)
	// onNodeRegister is told of every node registration applied (outside
	// the lock), so the node can meet the new member through gossip.
	onNodeRegister func(NodeRecord)
	// applied is the index of the last entry Apply finished. raft's own
	// AppliedIndex runs ahead: it moves when entries are handed to the FSM
	// goroutine, before Apply has run, so reads must wait on this instead.
	applied atomic.Uint64
}

// AppliedIndex is the index of the last log entry whose Apply finished.
func (f *fsm) AppliedIndex() uint64 { return f.applied.Load() }

func newFSM() *fsm {
	return &fsm{kv: map[string]KVEntry{}, models: map[string]*ModelInfo{}, nodes: map[string]*NodeRecord{}}
}

var _ raft.FSM = (*fsm)(nil)

// Apply applies one committed log entry.
func (f *fsm) Apply(l *raft.Log) any {
	c, err := decodeCommand(l.Data)
	if err != nil {
		f.applied.Store(l.Index)
		return ApplyResult{Err: fmt.Errorf("%w: %v", errBadCommand, err)}
	}
	if err := c.validate(); err != nil { // never in the log from this node; one from elsewhere must not crash it
		f.applied.Store(l.Index)
		return ApplyResult{Err: err}
	}
	var dropped []string
	var registered *NodeRecord
	f.mu.Lock()
	res := ApplyResult{Version: l.Index}
	switch c.Op {
	case opPut:
		f.kv[c.Key] = KVEntry{Value: c.Value, Version: l.Index}
	case opDelete:
		delete(f.kv, c.Key)
	case opCAS:
		cur, ok := f.kv[c.Key]
		if (c.ExpectVersion == 0 && ok) || (c.ExpectVersion != 0 && (!ok || cur.Version != c.ExpectVersion)) {
			res = ApplyResult{Version: cur.Version, Err: ErrCASConflict}
		} else {
			f.kv[c.Key] = KVEntry{Value: c.Value, Version: l.Index}
		}
	case opModelAdd:
		m := f.models[c.Model.Name]
		if m == nil || m.Digest != c.Model.Digest {
			if m != nil {
				dropped = append(dropped, m.Digest)
			}
			m = &ModelInfo{Name: c.Model.Name, Digest: c.Model.Digest, SizeBytes: c.Model.SizeBytes}
			f.models[c.Model.Name] = m
		}
		if !contains(m.Replicas, c.NodeID) {
			m.Replicas = append(m.Replicas, c.NodeID)
			sort.Strings(m.Replicas)
		}
	case opModelDrop:
		if m := f.models[c.Key]; m != nil {
			m.Replicas = remove(m.Replicas, c.NodeID)
			if len(m.Replicas) == 0 {
				delete(f.models, c.Key)
			}
			dropped = append(dropped, m.Digest)
		}
	case opModelDelete:
		if m := f.models[c.Key]; m != nil {
			delete(f.models, c.Key)
			dropped = append(dropped, m.Digest)
		}
	case opNodeRegister:
		n := *c.Node
		if old := f.nodes[n.ID]; old != nil {
			n.Drained = old.Drained
		}
		f.nodes[n.ID] = &n
		registered = &n
	case opNodeRemove:
		delete(f.nodes, c.NodeID)
	case opTermStart:
	case opDrain, opUndrain:
		if n := f.nodes[c.NodeID]; n != nil {
			n.Drained = c.Op == opDrain
		} else {
			res.Err = fmt.Errorf("%w %q", errUnknownNode, c.NodeID)
		}
	default:
		res.Err = fmt.Errorf("unknown command %q", c.Op)
	}
	f.mu.Unlock()
	f.applied.Store(l.Index)
	if registered != nil && f.onNodeRegister != nil {
		f.onNodeRegister(*registered)
	}
	if f.onModelDrop != nil {
		for _, d := range dropped {
			f.onModelDrop(d)
		}
	}
	return res
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}

// Get returns a KV entry.
func (f *fsm) Get(key string) (KVEntry, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	e, ok := f.kv[key]
	return e, ok
}

// KVCount returns the number of keys.
func (f *fsm) KVCount() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.kv)
}

// Model returns a copy of a model's registry entry.
func (f *fsm) Model(name string) (ModelInfo, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	m, ok := f.models[name]
	if !ok {
		return ModelInfo{}, false
	}
	c := *m
	c.Replicas = append([]string(nil), m.Replicas...)
	return c, true
}

// Models returns copies of every model, sorted by name.
func (f *fsm) Models() []ModelInfo {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]ModelInfo, 0, len(f.models))
	for _, m := range f.models {
		c := *m
		c.Replicas = append([]string(nil), m.Replicas...)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DigestReferenced reports whether any model still uses digest on node id.
func (f *fsm) DigestReferenced(digest, id string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, m := range f.models {
		if m.Digest == digest && contains(m.Replicas, id) {
			return true
		}
	}
	return false
}

// Node returns a copy of a node record.
func (f *fsm) Node(id string) (NodeRecord, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	n, ok := f.nodes[id]
	if !ok {
		return NodeRecord{}, false
	}
	return *n, true
}

// Nodes returns copies of every node record, sorted by ID.
func (f *fsm) Nodes() []NodeRecord {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]NodeRecord, 0, len(f.nodes))
	for _, n := range f.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

type fsmState struct {
	KV     map[string]KVEntry     `json:"kv"`
	Models map[string]*ModelInfo  `json:"models"`
	Nodes  map[string]*NodeRecord `json:"nodes"`
}

// Snapshot copies the state; Persist writes it as JSON.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	st := fsmState{KV: make(map[string]KVEntry, len(f.kv)), Models: map[string]*ModelInfo{}, Nodes: map[string]*NodeRecord{}}
	for k, v := range f.kv {
		st.KV[k] = v
	}
	for k, v := range f.models {
		c := *v
		c.Replicas = append([]string(nil), v.Replicas...)
		st.Models[k] = &c
	}
	for k, v := range f.nodes {
		c := *v
		st.Nodes[k] = &c
	}
	return &snapshot{st: st}, nil
}

// Restore replaces the state with a snapshot's. The applied index moves
// with the next Apply (raft only restores at start-up or when a follower
// is far behind, and then applies the entries after the snapshot).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var st fsmState
	if err := json.NewDecoder(rc).Decode(&st); err != nil {
		return err
	}
	if st.KV == nil {
		st.KV = map[string]KVEntry{}
	}
	if st.Models == nil {
		st.Models = map[string]*ModelInfo{}
	}
	if st.Nodes == nil {
		st.Nodes = map[string]*NodeRecord{}
	}
	f.mu.Lock()
	f.kv, f.models, f.nodes = st.KV, st.Models, st.Nodes
	f.mu.Unlock()
	return nil
}

type snapshot struct{ st fsmState }

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.st); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}
