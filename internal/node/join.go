// Joining: a new node asks any member to add it as a Raft voter and
// gossip peer; the bootstrap node registers itself once it leads.

package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

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
