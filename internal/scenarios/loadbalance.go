package scenarios

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
	"github.com/odbench/odbench/internal/target"
)

// loadbalanceScenarios: for each scheduling policy the target can switch
// to, streamed generate requests enter at every node in turn, and the
// scenario measures how evenly the cluster spread them (shares from
// X-Served-By, Jain's fairness index, max/min), how consistent each node's
// latency was (p99/p50, coefficient of variation), and how evenly slots
// and CPU were used. loadbalance/saturation measures the saturated
// throughput of the cluster size, which the report compares across sizes.
func loadbalanceScenarios(cfg *config.Config) []Spec {
	var out []Spec
	for _, p := range cfg.LoadBalance.Policies {
		out = append(out, Spec{
			Name:     "loadbalance/policy=" + p,
			Params:   map[string]string{"policy": p, "clients_per_slot": itoa(cfg.LoadBalance.ClientsPerSlot)},
			MinNodes: 2,
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
				return runBalance(ctx, env, c, p, cfg.LoadBalance.ClientsPerSlot)
			},
			Finish: cpuSpread,
		})
	}
	out = append(out, prefixCacheScenario(cfg))
	out = append(out, Spec{
		Name:   "loadbalance/saturation",
		Params: map[string]string{"clients_per_slot": "4"},
		Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
			return runBalance(ctx, env, c, "", 4)
		},
	})
	return out
}

// runBalance drives slots × nodes × perSlot clients of streamed generate
// requests; policy "" leaves the target's policy as it is.
func runBalance(ctx context.Context, env *Env, c cluster.Cluster, policy string, perSlot int) error {
	if env.Target.Inference == nil {
		return Skip("the %s profile has no inference section", env.Target.Name)
	}
	ctl := env.FastClient(8)
	defer ctl.Close()
	api := env.API(ctl)
	nodes := c.Nodes()
	if policy != "" {
		restore, err := switchPolicy(ctx, api, nodes, policy)
		if err != nil {
			return err
		}
		defer restore()
	}
	cleanup, err := ensureModel(ctx, env, api, c)
	if err != nil {
		return err
	}
	defer cleanup()

	slots, slotsKnown := 0, true
	for _, n := range nodes {
		m, err := api.Metrics(ctx, n.API)
		if err != nil || m.InferenceSlots == 0 {
			slotsKnown = false
			break
		}
		slots += m.InferenceSlots
	}
	if !slotsKnown {
		slots = env.Config.Cluster.Local.Slots * len(nodes)
		env.Warn("the target does not report its inference slots (its profile's metrics route); assumed %d per node from cluster.local.slots", env.Config.Cluster.Local.Slots)
	}
	clients := slots * perSlot

	in := env.Config.Inference
	client := env.Client(clients)
	defer client.CloseIdleConnections()
	wl, err := env.workload()
	if err != nil {
		return err
	}
	st := newInferStats(in.SLOTTFT, in.SLOTPOT, clients)
	occ := startOccupancy(ctx, api, nodes, env.Warmup)
	res, err := env.Closed(ctx, clients, generateOp(requestOp, client, bases(c), inferTargetOf(env, false), st, wl))
	occupancy := occ.stop()
	if err != nil {
		return err
	}
	st.finish(env, res)
	env.Scalar("clients", float64(clients), "count")
	if policy == "" {
		for _, op := range res.Operations() {
			env.Scalar("saturated_rps", op.ThroughputOpsPerSec, "requests/s")
		}
		return nil
	}

	// Distribution over every node, counting the ones that served nothing.
	served := map[string]float64{}
	ids, counts := st.nodeShares()
	for i, id := range ids {
		served[id] = counts[i]
	}
	var all []float64
	var total float64
	for _, n := range nodes {
		all = append(all, served[n.ID])
		total += served[n.ID]
	}
	if total == 0 {
		return errors.New("no request named its serving node (X-Served-By or served_by); cannot judge the distribution")
	}
	for _, n := range nodes {
		env.Scalar("share_"+n.ID, served[n.ID]/total, "fraction")
	}
	fair := metrics.JainIndex(all)
	env.Scalar("jain_fairness", fair, "index")
	if lo, hi := minMax(all); lo > 0 {
		env.Scalar("max_min_ratio", hi/lo, "ratio")
	} else {
		env.Absent("max_min_ratio", "ratio", "a node served no request")
	}
	if policy == "round_robin" {
		// fail: round robin that does not spread requests evenly is a broken
		// scheduler, whatever the timing (shares are counts, not latencies).
		env.Check("round_robin_fairness", metrics.SeverityFail, fair >= 0.95, fmt.Sprintf("Jain's index %.3f over the nodes' shares %s (want >= 0.95)", fair, formatShares(nodes, served, total)))
	}

	// Response-time consistency per node.
	st.perNode.Tick(res.MeasureEnd)
	var perNode []metrics.Operation
	for _, op := range st.perNode.Ops() {
		snap := op.Snapshot(res.Measured())
		snap.PhaseOf = requestOp
		perNode = append(perNode, snap)
		node := snap.Name[len("e2e@"):]
		if snap.Latency.P50Ns > 0 {
			env.Scalar("p99_p50_ratio_"+node, float64(snap.Latency.P99Ns)/float64(snap.Latency.P50Ns), "ratio")
		}
		if snap.Latency.MeanNs > 0 {
			env.Scalar("latency_cv_"+node, snap.Latency.StdDevNs/snap.Latency.MeanNs, "ratio")
		}
	}
	env.AddOperations(perNode...)

	// Resource balance: slot occupancy from the nodes, CPU from the processes.
	if len(occupancy) == len(nodes) {
		var occ []float64
		for _, n := range nodes {
			v := occupancy[n.ID]
			env.Scalar("slot_occupancy_"+n.ID, v, "fraction")
			occ = append(occ, v)
		}
		lo, hi := minMax(occ)
		env.Scalar("slot_occupancy_spread", hi-lo, "fraction")
	} else {
		env.Absent("slot_occupancy_spread", "fraction", "the nodes' in-flight counts could not be polled (its profile's metrics route)")
	}
	return nil
}

// switchPolicy sets policy on every node and returns a func restoring the
// policy each node had.
func switchPolicy(ctx context.Context, api *API, nodes []cluster.Node, policy string) (func(), error) {
	type prev struct{ base, policy string }
	var olds []prev
	for _, n := range nodes {
		var cur struct {
			Policy string `json:"policy"`
		}
		if err := api.Get(ctx, n.API, "policy_get", target.Vars{}, &cur); err != nil {
			if errors.Is(err, ErrUnsupported) {
				return nil, Skip("the target cannot switch its scheduling policy: %v", err)
			}
			return nil, err
		}
		olds = append(olds, prev{n.API, cur.Policy})
		if err := api.SetPolicy(ctx, n.API, policy); err != nil {
			return nil, fmt.Errorf("setting policy %s on %s: %w", policy, n.ID, err)
		}
	}
	return func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, o := range olds {
			_ = api.SetPolicy(cctx, o.base, o.policy)
		}
	}, nil
}

// occupancy polls every node's in-flight inference count after the
// warm-up and averages it as a fraction of the node's slots.
type occupancy struct {
	cancel context.CancelFunc
	done   chan map[string]float64
}

func startOccupancy(ctx context.Context, api *API, nodes []cluster.Node, warmup time.Duration) *occupancy {
	ctx, cancel := context.WithCancel(ctx)
	o := &occupancy{cancel: cancel, done: make(chan map[string]float64, 1)}
	go func() {
		sum := map[string]float64{}
		n := map[string]int{}
		select {
		case <-time.After(warmup):
		case <-ctx.Done():
			o.done <- nil
			return
		}
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out := map[string]float64{}
				for id, s := range sum {
					out[id] = s / float64(n[id])
				}
				o.done <- out
				return
			case <-t.C:
				var wg sync.WaitGroup
				var mu sync.Mutex
				for _, node := range nodes {
					wg.Add(1)
					go func() {
						defer wg.Done()
						m, err := api.Metrics(ctx, node.API)
						if err != nil || m.InferenceSlots == 0 {
							return
						}
						mu.Lock()
						sum[node.ID] += float64(m.InferenceInFlight) / float64(m.InferenceSlots)
						n[node.ID]++
						mu.Unlock()
					}()
				}
				wg.Wait()
			}
		}
	}()
	return o
}

func (o *occupancy) stop() map[string]float64 {
	o.cancel()
	return <-o.done
}

// cpuSpread derives the spread of mean CPU between the busiest and the
// idlest node from the resources the runner sampled over the measured
// window. It is a Spec.Finish hook.
func cpuSpread(res *metrics.Scenario) {
	absent := func(reason string) {
		res.Scalars = append(res.Scalars, metrics.Scalar{Name: "cpu_spread_percent", Unit: "percent", Reason: reason})
	}
	if res.Resources == nil {
		absent("no resources were sampled during the measurement")
		return
	}
	var cpu []float64
	for _, n := range res.Resources.Nodes {
		if n.ID != "odbench" {
			cpu = append(cpu, n.CPUPercentMean)
		}
	}
	if len(cpu) < 2 {
		absent("fewer than two node processes could be sampled (odbench samples only nodes it started)")
		return
	}
	lo, hi := minMax(cpu)
	res.Scalars = append(res.Scalars, metrics.Scalar{Name: "cpu_spread_percent", Value: metrics.Float(hi - lo), Unit: "percent"})
}

// formatShares renders each node's share of requests: "n1 34%, n2 33%".
func formatShares(nodes []cluster.Node, served map[string]float64, total float64) string {
	parts := make([]string, len(nodes))
	for i, n := range nodes {
		parts[i] = fmt.Sprintf("%s %.0f%%", n.ID, 100*served[n.ID]/total)
	}
	return strings.Join(parts, ", ")
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}
