// Admin routes the benchmarks drive: the fault filter (cut or shape
// traffic to peers, corrupt blobs, slow the disk) and the inference
// scheduling policy.

package node

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/config"
)

// FaultRequest is the body of POST /api/v1/admin/faults. It replaces
// every rule of this node's filter: traffic to and from the peers in Drop
// is cut, traffic to those in Links is shaped, blobs are served corrupted,
// and every Raft log write waits DiskDelay, as on a slow disk.
type FaultRequest struct {
	Drop         []string                 `json:"drop,omitempty"`
	Links        map[string]LinkFaultJSON `json:"links,omitempty"` // node ID -> shaping
	CorruptBlobs bool                     `json:"corrupt_blobs,omitempty"`
	DiskDelay    string                   `json:"disk_delay,omitempty"` // "20ms"
}

// LinkFaultJSON is a LinkFault as the admin API spells it.
type LinkFaultJSON struct {
	Delay             string  `json:"delay,omitempty"`  // "50ms"
	Jitter            string  `json:"jitter,omitempty"` // "10ms": each write waits delay ± jitter
	LossPercent       float64 `json:"loss_percent,omitempty"`
	BandwidthKBPerSec float64 `json:"bandwidth_kb_per_s,omitempty"`
}

// parseFaultDuration reads one of the request's durations (empty: 0).
func parseFaultDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxFaultDelay {
		return 0, fmt.Errorf("%s: want a duration from 0 to %v, got %q", field, maxFaultDelay, s)
	}
	return d, nil
}

func (l LinkFaultJSON) parse(id string) (LinkFault, error) {
	d, err := parseFaultDuration("links."+id+".delay", l.Delay)
	if err != nil {
		return LinkFault{}, err
	}
	j, err := parseFaultDuration("links."+id+".jitter", l.Jitter)
	if err != nil {
		return LinkFault{}, err
	}
	if l.LossPercent < 0 || l.LossPercent > 100 {
		return LinkFault{}, fmt.Errorf("links.%s.loss_percent: want 0 to 100, got %v", id, l.LossPercent)
	}
	if b := l.BandwidthKBPerSec; b != 0 && (b < minBandwidthKBPerSec || b > maxBandwidthKBPerSec) {
		return LinkFault{}, fmt.Errorf("links.%s.bandwidth_kb_per_s: want 0 (no cap) or %d to %d, got %v",
			id, minBandwidthKBPerSec, maxBandwidthKBPerSec, b)
	}
	return LinkFault{Delay: d, Jitter: j, LossPercent: l.LossPercent, BandwidthKBPerSec: l.BandwidthKBPerSec}, nil
}

func (n *Node) faultsSet(w http.ResponseWriter, r *http.Request) {
	var req FaultRequest
	if !decodeStrict(w, r, &req) {
		return
	}
	addrs := n.peerAddrs()
	rules := faultRules{Links: map[string]LinkFault{}, Corrupt: req.CorruptBlobs}
	var unknown []string
	for _, id := range req.Drop {
		a, ok := addrs[id]
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		rules.Drop = append(rules.Drop, a...)
	}
	for id, lj := range req.Links {
		lf, err := lj.parse(id)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "%v", err)
			return
		}
		a, ok := addrs[id]
		if !ok {
			unknown = append(unknown, id)
			continue
		}
		for _, addr := range a {
			rules.Links[addr] = lf
		}
	}
	var err error
	if rules.DiskDelay, err = parseFaultDuration("disk_delay", req.DiskDelay); err != nil {
		writeErr(w, http.StatusBadRequest, "%v", err)
		return
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		writeErr(w, http.StatusBadRequest, "unknown node IDs: %v", unknown)
		return
	}
	n.faults.set(rules)
	writeJSON(w, http.StatusOK, req)
}

// peerAddrs maps node IDs to their Raft and gossip addresses.
func (n *Node) peerAddrs() map[string][]string {
	out := map[string][]string{}
	for _, rec := range n.fsm.Nodes() {
		out[rec.ID] = append(out[rec.ID], rec.Raft, rec.Gossip, strings.TrimPrefix(rec.API, "http://"))
	}
	for _, m := range n.members() {
		out[m.ID] = append(out[m.ID], m.Gossip)
	}
	return out
}

// faultsGet answers the rules in force, by address.
func (n *Node) faultsGet(w http.ResponseWriter, r *http.Request) {
	rules := n.faults.rules()
	links := map[string]LinkFaultJSON{}
	for a, l := range rules.Links {
		links[a] = LinkFaultJSON{Delay: l.Delay.String(), Jitter: l.Jitter.String(), LossPercent: l.LossPercent, BandwidthKBPerSec: l.BandwidthKBPerSec}
	}
	writeJSON(w, http.StatusOK, map[string]any{"drop_addrs": rules.Drop, "links": links,
		"corrupt_blobs": rules.Corrupt, "disk_delay": rules.DiskDelay.String()})
}

func (n *Node) faultsClear(w http.ResponseWriter, r *http.Request) {
	n.faults.set(faultRules{})
	writeJSON(w, http.StatusOK, map[string]string{"status": "healed"})
}

func (n *Node) policyGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"policy": n.infer.policy()})
}

// policySet switches this node's inference scheduling policy at run time
// (each node schedules the requests it receives).
func (n *Node) policySet(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Policy string `json:"policy"`
	}
	if !decodeStrict(w, r, &req) {
		return
	}
	if !slices.Contains(config.Policies(), req.Policy) {
		writeErr(w, http.StatusBadRequest, "policy must be one of %s, not %q", strings.Join(config.Policies(), ", "), req.Policy)
		return
	}
	n.infer.setPolicy(req.Policy)
	writeJSON(w, http.StatusOK, req)
}
