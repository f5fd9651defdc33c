package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// p2pScenarios measure the gossip layer: how fast a broadcast reaches
// every node (from the nodes' own receipt times), how fast content routing
// answers, and how long a restarted node takes to be seen again. NAT
// traversal, which the older framework listed, cannot be measured on one
// host and is not offered.
func p2pScenarios(cfg *config.Config) []Spec {
	w := cfg.Execution.ConcurrentWorkers
	return []Spec{
		{Name: "p2p/broadcast/payload=256B", MinNodes: 2, Run: runBroadcast},
		{Name: fmt.Sprintf("p2p/locate/clients=%d", w), Params: map[string]string{"clients": itoa(w)},
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error { return runLocate(ctx, env, c, w) }},
		{Name: "p2p/rejoin", MinNodes: 2, Needs: []cluster.Ability{cluster.CanKill, cluster.CanRestart}, Run: runRejoin},
	}
}

// runBroadcast sends broadcasts from the nodes in turn, two at a time, and
// for each waits until every node has it. Recorded from the receipt
// times: full_propagation (the last node's receipt) and delivery (each
// node's). The times come from the nodes' clocks: across hosts their
// offset adds to the figures.
func runBroadcast(ctx context.Context, env *Env, c cluster.Cluster) error {
	client := env.FastClient(16)
	defer client.Close()
	api := env.API(client)
	nodes := bases(c)
	probe, _ := json.Marshal(map[string]any{"payload_bytes": 1})
	if !api.Has("p2p_message") {
		return Skip("the %s profile has no p2p_message route", env.Target.Name)
	}
	if err := api.Call(ctx, nodes[0], "p2p_broadcast", target.Vars{Body: string(probe)}, nil); errors.Is(err, ErrUnsupported) {
		return Skip("the target has no broadcast API: %v", err)
	} else if err != nil {
		return err
	}
	aux := metrics.NewRecorder(2, false)
	var seq atomic.Uint64
	body, _ := json.Marshal(map[string]any{"payload_bytes": 256})
	op := load.Operation{Name: "broadcast_until_everywhere", Do: func(ctx context.Context) error {
		i := seq.Add(1)
		var sent struct {
			ID     string `json:"id"`
			SentAt int64  `json:"sent_at_unix_ns"`
		}
		from := nodes[int(i)%len(nodes)]
		if err := api.Get(ctx, from, "p2p_broadcast", target.Vars{Body: string(body)}, &sent); err != nil {
			return err
		}
		var last int64
		var deliveries []int64
		for _, n := range nodes {
			var got struct {
				At int64 `json:"received_at_unix_ns"`
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				err := api.Get(ctx, n, "p2p_message", target.Vars{Name: sent.ID}, &got)
				if err == nil {
					break
				}
				var se *load.StatusError
				if !errors.As(err, &se) || se.Code != http.StatusNotFound || time.Now().After(deadline) {
					return fmt.Errorf("message %s at %s: %w", sent.ID, n, err)
				}
				time.Sleep(2 * time.Millisecond)
			}
			if n != from {
				deliveries = append(deliveries, got.At-sent.SentAt)
			}
			last = max(last, got.At-sent.SentAt)
		}
		if from, ok := load.MeasureStart(ctx); ok && time.Unix(0, sent.SentAt).Before(from) {
			return nil // warm-up
		}
		aux.Op("full_propagation").Shard(int(i)).Record(last)
		for _, d := range deliveries {
			aux.Op("delivery").Shard(int(i)).Record(d)
		}
		return nil
	}}
	res, err := env.Closed(ctx, 2, op)
	if err != nil {
		return err
	}
	aux.Start(res.MeasureStart) // its one interval spans the engine's window
	aux.Tick(res.MeasureEnd)
	for _, o := range aux.Ops() {
		snap := o.Snapshot(res.Measured())
		snap.PhaseOf = op.Name // the receipt times of each broadcast request
		env.AddOperations(snap)
	}
	return nil
}

// runLocate asks the nodes in turn which peers hold a model's blob.
func runLocate(ctx context.Context, env *Env, c cluster.Cluster, clients int) error {
	api, done, err := withModel(ctx, env, c)
	if err != nil {
		return err
	}
	defer done()
	m, err := api.Model(ctx, bases(c)[0], env.Config.Inference.Model)
	if err != nil {
		return err
	}
	client := env.FastClient(clients)
	defer client.Close()
	locate := env.API(client)
	nodes := bases(c)
	var next atomic.Uint64
	if err := locate.Call(ctx, nodes[0], "p2p_locate", target.Vars{Name: m.Digest}, nil); errors.Is(err, ErrUnsupported) {
		return Skip("the target has no content routing API: %v", err)
	}
	op, err := locate.Op("locate", "p2p_locate", func() (string, target.Vars) {
		return nodes[int(next.Add(1))%len(nodes)], target.Vars{Name: m.Digest}
	})
	if err != nil {
		return Skip("%v", err)
	}
	_, err = env.Closed(ctx, clients, op)
	return err
}

// runRejoin kills a follower and restarts it, over and over, recording
// how long each restart takes until every node sees it again in Raft and
// gossip (the driver waits for exactly that).
func runRejoin(ctx context.Context, env *Env, c cluster.Cluster) error {
	leader, err := leaderOf(ctx, c)
	if errors.Is(err, ErrUnsupported) {
		return Skip("%v", err)
	}
	if err != nil {
		return err
	}
	var victim string
	for _, n := range c.Nodes() {
		if n.ID != leader.ID {
			victim = n.ID
			break
		}
	}
	killer, restarter := c.(cluster.Killer), c.(cluster.Restarter)
	aux := metrics.NewRecorder(1, false)
	start := time.Now()
	measureFrom := start.Add(env.Warmup)
	end := measureFrom.Add(env.Duration)
	aux.Start(measureFrom)
	for i := 0; time.Now().Before(end) || i == 0; i++ {
		if err := killer.Kill(ctx, victim); err != nil {
			return err
		}
		began := time.Now()
		env.Event("rejoin_start", victim, "killed")
		if err := restarter.Restart(ctx, victim); err != nil {
			return fmt.Errorf("restarting %s: %w", victim, err)
		}
		env.Event("rejoin_stop", victim, "seen by every node")
		if !began.Before(measureFrom) {
			aux.Op("rejoin").Shard(0).Record(time.Since(began).Nanoseconds())
		}
	}
	aux.Tick(time.Now())
	ops := aux.Ops()
	if len(ops) == 0 {
		return fmt.Errorf("no rejoin started after the %v warm-up: lengthen execution.duration", env.Warmup)
	}
	for _, o := range ops {
		env.AddOperations(o.Snapshot(time.Since(measureFrom)))
	}
	return nil
}
