package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Meta is what a node tells the others about itself through gossip.
type Meta struct {
	API      string   `json:"api"`
	Models   []string `json:"models,omitempty"` // digests held
	InFlight int      `json:"in_flight"`        // inference requests being served
	Drained  bool     `json:"drained,omitempty"`
}

// broadcastMsg is a benchmark broadcast carried by gossip.
type broadcastMsg struct {
	ID      string `json:"id"`
	From    string `json:"from"`
	SentAt  int64  `json:"sent_at_unix_ns"`
	Payload []byte `json:"payload,omitempty"`
}

// delegate hooks the node into memberlist.
type delegate struct{ n *Node }

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	n := d.n
	m := Meta{API: n.apiURL, Models: n.blobs.digests(), InFlight: n.infer.inFlight()}
	if rec, ok := n.fsm.Node(n.cfg.ID); ok {
		m.Drained = rec.Drained
	}
	b, _ := json.Marshal(m)
	if len(b) > limit {
		m.Models = nil // the registry in Raft stays authoritative
		b, _ = json.Marshal(m)
	}
	return b
}

func (d *delegate) NotifyMsg(b []byte) {
	var m broadcastMsg
	if err := json.Unmarshal(b, &m); err != nil || m.ID == "" || len(m.ID) > maxBroadcastID {
		return
	}
	d.n.receipts.record(m.ID, time.Now())
	d.n.metrics.broadcastsReceived.Inc()
}

func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte {
	return d.n.bcast.GetBroadcasts(overhead, limit)
}

func (d *delegate) LocalState(join bool) []byte            { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool) {}

// simpleBroadcast is one queued gossip message.
type simpleBroadcast []byte

func (b simpleBroadcast) Invalidates(memberlist.Broadcast) bool { return false }
func (b simpleBroadcast) Message() []byte                       { return b }
func (b simpleBroadcast) Finished()                             {}

// maxBroadcastID bounds a broadcast's id, in bytes: the receipts store
// keeps it, so 10,000 receipts hold at most 1.28 MB of ids.
const maxBroadcastID = 128

// receipts remembers when each broadcast arrived here, bounded in count
// (and so, with ids of at most maxBroadcastID bytes, in bytes).
type receipts struct {
	mu    sync.Mutex
	at    map[string]time.Time
	order []string
	max   int
}

func newReceipts(max int) *receipts { return &receipts{at: map[string]time.Time{}, max: max} }

func (r *receipts) record(id string, t time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.at[id]; ok {
		return
	}
	r.at[id] = t
	r.order = append(r.order, id)
	if len(r.order) > r.max {
		delete(r.at, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *receipts) get(id string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[id]
	return t, ok
}

// members returns the live memberlist members with their metadata.
func (n *Node) members() []memberInfo {
	var out []memberInfo
	for _, m := range n.ml.Members() {
		mi := memberInfo{ID: m.Name, Gossip: m.Address(), State: stateName(m.State)}
		_ = json.Unmarshal(m.Meta, &mi.Meta)
		out = append(out, mi)
	}
	return out
}

type memberInfo struct {
	ID     string `json:"id"`
	Gossip string `json:"gossip"`
	State  string `json:"state"`
	Meta   Meta   `json:"meta"`
}

func stateName(s memberlist.NodeStateType) string {
	switch s {
	case memberlist.StateAlive:
		return "alive"
	case memberlist.StateSuspect:
		return "suspect"
	case memberlist.StateDead:
		return "dead"
	case memberlist.StateLeft:
		return "left"
	}
	return "unknown"
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

// meetRegistered joins, through gossip, every member the node registry
// registers that gossip does not know yet. Members that join at the same
// moment through member 1 each learn of member 1's gossip state as it was,
// and a member broadcast to the others before they were known to member 1
// would otherwise be learnt only from memberlist's push-pull exchange,
// every 15 s: one 7-node start in ten waited 15 to 25 s for it. The
// registry, replicated by Raft, names every member at once.
func (n *Node) meetRegistered(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-n.meet:
			if n.knowsGossipMember(r.ID) {
				continue
			}
			if _, err := n.ml.Join([]string{r.Gossip}); err != nil {
				n.log.Debug("gossip join of a registered member", "member", r.ID, "err", err)
			}
		}
	}
}

// knowsGossipMember reports whether gossip has id as a live member.
func (n *Node) knowsGossipMember(id string) bool {
	for _, m := range n.ml.Members() {
		if m.Name == id {
			return true
		}
	}
	return false
}
