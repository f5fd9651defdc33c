package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/history"
	"github.com/odbench/odbench/internal/metrics"
)

// historyLoad is the recorded key-value workload that runs beside a fault
// scenario's load (and a consensus scenario's, with
// consensus.check_consistency): faults.history_clients clients send get,
// put and compare-and-set on faults.history_keys shared keys through every
// node in turn, together at about faults.history_rate operations per
// second, each bounded by faults.history_timeout, and record each
// operation for the linearizability check.
type historyLoad struct {
	rec     *history.Recorder
	keys    *keySpace
	clients int
	timeout time.Duration
	client  *http.Client
	kv      *kvClient
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	// notRecorded counts operations that certainly changed nothing:
	// failed reads and refused writes.
	notRecorded atomic.Int64
}

// The checker's cost grows faster than the history (ambiguous writes stay
// open to the end), so a history aims at historyBudget operations, its rate
// lowered for long scenarios, and stops at historyCap.
const (
	historyBudget = 50_000
	historyCap    = 100_000
)

// historyRate is faults.history_rate, lowered so that a scenario of the
// configured warm-up and duration (and a fault that outlasts a quarter of
// it) records about historyBudget operations.
func historyRate(env *Env) float64 {
	span := env.Warmup + env.Duration*3/2
	return min(env.Config.Faults.HistoryRate, historyBudget/span.Seconds())
}

// startHistory starts the workload against every node of c; stop ends it.
func startHistory(ctx context.Context, env *Env, c cluster.Cluster) *historyLoad {
	f := env.Config.Faults
	keys := newKeySpace(env, f.HistoryKeys)
	keys.next.Store(uint64(f.HistoryKeys)) // every key is used: cleanup deletes them all
	// A shard runs its part of the clients and the rate (at least one).
	clients := max(env.Workers(f.HistoryClients), 1)
	h := &historyLoad{rec: history.NewRecorder(), keys: keys, clients: clients, timeout: f.HistoryTimeout, client: env.Client(clients)}
	h.kv, _ = newKV(env.Target, httpExchanger{h.client}) // the scenarios that start it have checked the kv section
	ctx, h.cancel = context.WithCancel(ctx)
	nodes := bases(c)
	interval := time.Duration(float64(time.Second) * float64(clients) / env.Config.Shard.Rate(historyRate(env)))
	for i := range clients {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			h.runClient(ctx, i, nodes, interval, rand.New(rand.NewPCG(env.Seed, uint64(i))))
		}()
	}
	return h
}

// errorPause is how long a client waits after an operation failed, so a
// node that refuses everything does not fill the history with failures.
const errorPause = 50 * time.Millisecond

// runClient sends one operation every interval (at once when behind),
// each to the next node, until ctx ends. It remembers the last version it
// saw of each key, to expect in its compare-and-sets.
func (h *historyLoad) runClient(ctx context.Context, id int, nodes []string, interval time.Duration, rng *rand.Rand) {
	seen := map[string]uint64{}
	next := time.Now()
	for seq := 0; h.rec.Len() < historyCap; seq++ {
		key := h.keys.key(rng.IntN(h.keys.size))
		in := history.Input{Key: key, Value: fmt.Sprintf("c%d-%d", id, seq)}
		switch p := rng.IntN(10); {
		case p < 4:
			in.Kind, in.Value = history.Get, ""
		case p < 7:
			in.Kind = history.Put
		default:
			in.Kind, in.Expect = history.CAS, seen[key]
		}
		base := nodes[(id+seq)%len(nodes)]
		call := h.rec.Now()
		// A write cut short by the end of the workload is recorded too, as
		// ambiguous: the node may have applied it, and another client may
		// have read its value.
		out, record := h.send(ctx, base, in)
		if record {
			h.rec.Add(id, in, call, out)
			if !out.Ambiguous {
				seen[key] = out.Version
			}
		} else if ctx.Err() == nil {
			h.notRecorded.Add(1)
		}
		next = next.Add(interval)
		if out.Ambiguous || !record {
			next = time.Now().Add(errorPause)
		}
		if d := time.Until(next); d > 0 {
			if !sleepCtx(ctx, d) {
				return
			}
		} else if ctx.Err() != nil {
			return
		} else {
			next = time.Now() // behind: do not burst to catch up
		}
	}
}

// send performs in against the node at base and says what the client
// learnt, and whether the operation belongs in the history (a failed
// read and a refused write changed nothing and do not).
func (h *historyLoad) send(ctx context.Context, base string, in history.Input) (history.Output, bool) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	var out history.Output
	var err error
	switch in.Kind {
	case history.Get:
		var found bool
		out.Value, out.Version, found, err = h.kv.Get(ctx, base, in.Key, false)
		if err != nil {
			return history.Output{}, false // a failed read changed nothing
		}
		if !found {
			return history.Output{}, true // the key does not exist
		}
		out.Found = true
		return out, true
	case history.Put:
		out.Version, err = h.kv.Put(ctx, base, in.Key, []byte(in.Value))
	case history.CAS:
		out.Version, out.Conflict, err = h.kv.CAS(ctx, base, in.Key, in.Expect, []byte(in.Value))
	}
	switch {
	case err == nil:
		return out, true
	case refused(err), !isAnswer(err) && notSent(err):
		return history.Output{}, false // the write never reached the log
	}
	// Cut short, timed out, or answered with an error that does not say
	// it was not applied: the write may have happened.
	return history.Output{Ambiguous: true}, true
}

// notSent reports whether a request failed before it could reach the
// server (the connection was refused), so it changed nothing.
func notSent(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// stop ends the workload and waits for its clients.
func (h *historyLoad) stop() {
	h.cancel()
	h.wg.Wait()
	h.client.CloseIdleConnections()
}

// check stops the workload, checks its history within
// faults.check_timeout and records the verdict: a "linearizable" check of
// severity fail, the Consistency of the result, and on a violation
// porcupine's visualisation beside the results file. It then deletes the
// keys through base.
func (h *historyLoad) check(ctx context.Context, env *Env, base string) {
	h.stop()
	defer func() {
		ctl := env.FastClient(16)
		defer ctl.Close()
		if kv, err := env.KV(ctl); err == nil {
			h.keys.cleanup(ctx, env, kv, base)
		}
	}()
	vis := ""
	if env.Dir != "" {
		if err := os.MkdirAll(env.Dir, 0o755); err == nil {
			vis = filepath.Join(env.Dir, fmt.Sprintf("linearizability-%s-%x.html",
				strings.NewReplacer("/", "_", "=", "-").Replace(env.res.Name), env.Seed))
		}
	}
	// The check cannot be interrupted: it must end inside the scenario's
	// own timeout, with a little time left for the cleanup.
	timeout := env.Config.Faults.CheckTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = max(min(timeout, time.Until(d)-5*time.Second), time.Second)
	}
	res := h.rec.Check(timeout, vis)
	c := &metrics.Consistency{Verdict: string(res.Verdict), Operations: res.Operations, Ambiguous: res.Ambiguous,
		NotRecorded: int(h.notRecorded.Load()), Keys: res.Keys, Clients: h.clients, CheckMs: float64(res.Took.Microseconds()) / 1000,
		Visualization: res.Visualization}
	env.mu.Lock()
	env.res.Consistency = c
	env.mu.Unlock()

	detail := fmt.Sprintf("%d operations (%d ambiguous writes) by %d clients on %d keys: %s, checked in %s",
		res.Operations, res.Ambiguous, h.clients, res.Keys, res.Verdict, res.Took.Round(time.Millisecond))
	if res.Operations >= historyCap {
		detail += fmt.Sprintf(" (the workload stopped at %d operations, before the scenario ended)", historyCap)
	}
	switch {
	case res.Verdict == history.Unknown:
		detail += fmt.Sprintf(" (the check ran out of its %v: raise faults.check_timeout and execution.scenario_timeout, or lower faults.history_rate)", timeout)
	case res.Verdict == history.Violation && res.Visualization != "":
		detail += "; the history is drawn in " + res.Visualization
	case res.Verdict == history.Violation && res.VisualizationErr != nil:
		detail += "; its drawing could not be written: " + res.VisualizationErr.Error()
	}
	if res.Operations == 0 {
		// fail: a check of nothing proves nothing.
		env.Check("linearizable", metrics.SeverityFail, false, fmt.Sprintf("no operation of the history workload could be recorded (%d failed or were refused)", h.notRecorded.Load()))
		return
	}
	// fail: a history no sequential order explains is a consistency bug
	// (stale reads, lost or phantom writes); unknown proves nothing either.
	env.Check("linearizable", metrics.SeverityFail, res.Verdict == history.Linearizable, detail)
}

// withHistory runs the recorded workload beside s and checks its history
// once s has run (consensus.check_consistency).
func withHistory(s Spec) Spec {
	run := s.Run
	s.Run = func(ctx context.Context, env *Env, c cluster.Cluster) error {
		h := startHistory(ctx, env, c)
		defer h.stop()
		if err := run(ctx, env, c); err != nil {
			return err
		}
		h.check(ctx, env, bases(c)[0])
		return nil
	}
	return s
}
