// The KV store over Raft: writes go through the log, reads are
// linearizable (read index) unless ?consistency=stale.

package node

import (
	"errors"
	"io"
	"net/http"
	"strconv"
)

func (n *Node) kvPut(w http.ResponseWriter, r *http.Request) {
	n.metrics.kvPuts.Inc()
	size := r.ContentLength
	if size > maxBody {
		size = -1 // read through the middleware's bound, which refuses it
	}
	data, err := encodePut(r.PathValue("key"), r.Body, size) // the key is never empty: the route needs one
	if err != nil {
		bodyError(w, err, "value: ")
		return
	}
	res, err := n.applyData(r.Context(), data)
	if err != nil {
		writeApplyErr(w, err)
		return
	}
	writeVersion(w, res.Version)
}

var jsonType = []string{"application/json"}

// writeVersion answers {"version":N} without reflection: the put path is
// the one benchmarks hammer.
func writeVersion(w http.ResponseWriter, v uint64) {
	w.Header()["Content-Type"] = jsonType // shared, never changed: net/http copies it
	b := make([]byte, 0, 32)
	b = append(b, `{"version":`...)
	b = strconv.AppendUint(b, v, 10)
	_, _ = w.Write(append(b, "}\n"...))
}

func (n *Node) kvCAS(w http.ResponseWriter, r *http.Request) {
	n.metrics.kvOps.WithLabelValues("cas").Inc()
	expect, err := strconv.ParseUint(r.URL.Query().Get("expect_version"), 10, 64)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "expect_version must be a whole number (0: the key must not exist)")
		return
	}
	value, err := io.ReadAll(r.Body)
	if err != nil {
		bodyError(w, err, "value: ")
		return
	}
	res, err := n.apply(r.Context(), Command{Op: opCAS, Key: r.PathValue("key"), Value: value, ExpectVersion: expect})
	if err != nil {
		if errors.Is(err, ErrCASConflict) {
			writeJSON(w, http.StatusConflict, map[string]any{"error": "version mismatch", "version": res.Version})
			return
		}
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"version": res.Version})
}

func (n *Node) kvDelete(w http.ResponseWriter, r *http.Request) {
	n.metrics.kvOps.WithLabelValues("delete").Inc()
	res, err := n.apply(r.Context(), Command{Op: opDelete, Key: r.PathValue("key")})
	if err != nil {
		writeApplyErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"version": res.Version})
}

// kvGet reads a key: linearizable by default (read index on the leader;
// followers forward), or ?consistency=stale from this node's FSM. The value
// is the body; its version is the X-Version header.
func (n *Node) kvGet(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	stale := r.URL.Query().Get("consistency") == "stale"
	n.metrics.kvOps.WithLabelValues(map[bool]string{true: "get_stale", false: "get"}[stale]).Inc()
	if !stale {
		if !n.isLeader() {
			if !n.cfg.StaleReads { // debug: otherwise answered below, possibly stale
				n.relayToLeader(w, r, nil)
				return
			}
		} else if err := n.readIndex(r.Context()); err != nil {
			writeApplyErr(w, errNoLeaderIf(err))
			return
		}
	}
	e, ok := n.fsm.Get(key)
	if !ok {
		writeErr(w, http.StatusNotFound, "key %q not found", key)
		return
	}
	w.Header().Set("X-Version", strconv.FormatUint(e.Version, 10))
	w.Header().Set("X-Served-By", n.cfg.ID)
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(e.Value)
}
