// P2P routes of the benchmarks: gossip broadcasts with receipt times,
// and content location.

package node

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

func (n *Node) p2pBroadcast(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID           string `json:"id"`
		PayloadBytes int    `json:"payload_bytes"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.PayloadBytes < 0 || req.PayloadBytes > 1024 {
		writeErr(w, http.StatusBadRequest, "payload_bytes must be from 0 to 1024 (gossip packets are small)")
		return
	}
	if len(req.ID) > maxBroadcastID {
		writeErr(w, http.StatusBadRequest, "id: at most %d bytes, not %d", maxBroadcastID, len(req.ID))
		return
	}
	if req.ID == "" {
		req.ID = fmt.Sprintf("%s-%d", n.cfg.ID, time.Now().UnixNano())
	}
	now := time.Now()
	msg, _ := json.Marshal(broadcastMsg{ID: req.ID, From: n.cfg.ID, SentAt: now.UnixNano(), Payload: make([]byte, req.PayloadBytes)})
	n.receipts.record(req.ID, now)
	n.bcast.QueueBroadcast(simpleBroadcast(msg))
	n.metrics.broadcastsSent.Inc()
	writeJSON(w, http.StatusOK, map[string]any{"id": req.ID, "sent_at_unix_ns": now.UnixNano()})
}

func (n *Node) p2pMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, ok := n.receipts.get(id)
	if !ok {
		writeErr(w, http.StatusNotFound, "message %q not received here", id)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "node": n.cfg.ID, "received_at_unix_ns": t.UnixNano()})
}

func (n *Node) p2pLocate(w http.ResponseWriter, r *http.Request) {
	d := r.PathValue("digest")
	if !validDigest(d) {
		writeErr(w, http.StatusBadRequest, "digest must be sha256: and 64 hex digits")
		return
	}
	type holder struct {
		ID  string `json:"id"`
		API string `json:"api"`
	}
	holders := []holder{}
	seen := map[string]bool{}
	for _, m := range n.fsm.Models() {
		if m.Digest != d {
			continue
		}
		for _, id := range m.Replicas {
			if rec, ok := n.fsm.Node(id); ok && !seen[id] {
				seen[id] = true
				holders = append(holders, holder{ID: id, API: rec.API})
			}
		}
	}
	if len(holders) == 0 {
		writeErr(w, http.StatusNotFound, "no node holds %s", d)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"digest": d, "holders": holders})
}
