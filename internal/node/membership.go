// Cluster membership routes: status, leader, join, leave, and the node
// registry (list, get, drain, undrain).

package node

import (
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// ClusterStatus is the body of GET /api/v1/cluster/status.
type ClusterStatus struct {
	ID            string       `json:"id"`
	State         string       `json:"state"`
	IsLeader      bool         `json:"is_leader"`
	LeaderID      string       `json:"leader_id"`
	LeaderAPI     string       `json:"leader_api"`
	LeaderRaft    string       `json:"leader_raft"`
	Term          uint64       `json:"term"`
	CommitIndex   uint64       `json:"commit_index"`
	AppliedIndex  uint64       `json:"applied_index"`
	LastLogIndex  uint64       `json:"last_log_index"`
	LeaderChanges int64        `json:"leader_changes"`
	Peers         []Peer       `json:"peers"`
	Members       []memberInfo `json:"members"`
	Fsync         bool         `json:"fsync"`
	// Registered counts the nodes in the Raft node registry.
	Registered int `json:"registered"`
	// AliveMembers counts the gossip members this node sees alive.
	AliveMembers int `json:"alive_members"`
}

// Peer is a Raft voter.
type Peer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
}

func (n *Node) clusterStatus(w http.ResponseWriter, r *http.Request) {
	stats := n.raft.Stats()
	u := func(k string) uint64 { v, _ := strconv.ParseUint(stats[k], 10, 64); return v }
	st := ClusterStatus{ID: n.cfg.ID, State: n.raft.State().String(), IsLeader: n.isLeader(),
		Term: u("term"), CommitIndex: n.raft.CommitIndex(), AppliedIndex: n.fsm.AppliedIndex(), LastLogIndex: u("last_log_index"),
		LeaderChanges: n.leaderChanges.Load(), Members: n.members(), Fsync: n.cfg.Fsync, Registered: len(n.fsm.Nodes())}
	addr, _ := n.raft.LeaderWithID()
	st.LeaderRaft = string(addr)
	st.LeaderID, st.LeaderAPI, _ = n.leaderAPI()
	for _, m := range st.Members {
		if m.State == "alive" {
			st.AliveMembers++
		}
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			st.Peers = append(st.Peers, Peer{ID: string(s.ID), Address: string(s.Address), Suffrage: s.Suffrage.String()})
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (n *Node) clusterLeader(w http.ResponseWriter, r *http.Request) {
	id, api, ok := n.leaderAPI()
	if !ok {
		w.Header().Set("Retry-After", "1")
		writeErr(w, http.StatusServiceUnavailable, "no raft leader")
		return
	}
	addr, _ := n.raft.LeaderWithID()
	writeJSON(w, http.StatusOK, map[string]string{"id": id, "api": api, "raft": string(addr)})
}

func (n *Node) clusterJoin(w http.ResponseWriter, r *http.Request) {
	var jr joinRequest
	if !decode(w, r, &jr) {
		return
	}
	if jr.ID == "" || jr.Raft == "" || jr.API == "" {
		writeErr(w, http.StatusBadRequest, "id, api and raft are required")
		return
	}
	if !n.isLeader() {
		n.forwardToLeader(w, r, jr)
		return
	}
	if err := n.raft.AddVoter(raft.ServerID(jr.ID), raft.ServerAddress(jr.Raft), 0, 10*time.Second).Error(); err != nil {
		writeApplyErr(w, errNoLeaderIf(err))
		return
	}
	if _, err := n.applyLocal(Command{Op: opNodeRegister, Node: &NodeRecord{ID: jr.ID, API: jr.API, Raft: jr.Raft, Gossip: jr.Gossip}}); err != nil {
		writeApplyErr(w, err)
		return
	}
	var gossip []string
	for _, m := range n.members() {
		gossip = append(gossip, m.Gossip)
	}
	writeJSON(w, http.StatusOK, joinResponse{Leader: n.cfg.ID, Gossip: gossip})
}

func (n *Node) clusterLeave(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.ID == "" {
		writeErr(w, http.StatusBadRequest, "id is required")
		return
	}
	if !n.isLeader() {
		n.forwardToLeader(w, r, req)
		return
	}
	if !n.isVoter(req.ID) {
		writeErr(w, http.StatusNotFound, "no member %q: nothing to remove", req.ID)
		return
	}
	if err := n.raft.RemoveServer(raft.ServerID(req.ID), 0, 10*time.Second).Error(); err != nil {
		writeApplyErr(w, errNoLeaderIf(err))
		return
	}
	if _, err := n.applyLocal(Command{Op: opNodeRemove, NodeID: req.ID}); err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": req.ID})
}

// isVoter reports whether id is in the Raft configuration.
func (n *Node) isVoter(id string) bool {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(id) {
			return true
		}
	}
	return false
}

// NodeView is one node as GET /api/v1/nodes shows it.
type NodeView struct {
	NodeRecord
	State    string   `json:"state"` // gossip state: alive, suspect, dead, left, unknown
	InFlight int      `json:"in_flight"`
	Models   []string `json:"models"`
	IsLeader bool     `json:"is_leader"`
}

func (n *Node) nodeViews() []NodeView {
	members := map[string]memberInfo{}
	for _, m := range n.members() {
		members[m.ID] = m
	}
	_, lid := n.raft.LeaderWithID()
	var out []NodeView
	for _, rec := range n.fsm.Nodes() {
		v := NodeView{NodeRecord: rec, State: "unknown", IsLeader: string(lid) == rec.ID, Models: []string{}}
		if m, ok := members[rec.ID]; ok {
			v.State, v.InFlight = m.State, m.Meta.InFlight
		}
		for _, mi := range n.fsm.Models() {
			if contains(mi.Replicas, rec.ID) {
				v.Models = append(v.Models, mi.Name)
			}
		}
		out = append(out, v)
	}
	return out
}

func (n *Node) nodesList(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"nodes": n.nodeViews()})
}

func (n *Node) nodeGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	for _, v := range n.nodeViews() {
		if v.ID == id {
			writeJSON(w, http.StatusOK, v)
			return
		}
	}
	writeErr(w, http.StatusNotFound, "node %q not found", id)
}

func (n *Node) nodeDrain(drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if _, ok := n.fsm.Node(id); !ok {
			writeErr(w, http.StatusNotFound, "node %q not found", id)
			return
		}
		op := opUndrain
		if drain {
			op = opDrain
		}
		if _, err := n.apply(r.Context(), Command{Op: op, NodeID: id}); err != nil {
			writeApplyErr(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "drained": drain})
	}
}
