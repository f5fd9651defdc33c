package scenarios

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/metrics"
)

// faultScenarios hurt a cluster under a steady write load and measure how
// it copes: a leader killed faults.leader_kills times (election time,
// time to the first successful write), a partitioned minority (the
// majority keeps committing, the minority cannot, and it converges after
// healing), a paused follower, the leader's links slowed, made lossy or
// capped, its disk slowed, and a node lost under inference load. Each fault is an event pair
// (<fault>_start, <fault>_stop) that the report shades on the timeline;
// every scenario reports its requests before, during and after the fault
// and checks the history of the recorded workload beside it for
// linearizability; those under write load also check that no
// acknowledged write was lost. They need the
// cluster's fault abilities and are skipped without them.
func faultScenarios(cfg *config.Config) []Spec {
	shape := []cluster.Ability{cluster.CanShape}
	f := cfg.Faults
	return []Spec{
		{Name: "faults/leader_failure", MinNodes: 3, Needs: []cluster.Ability{cluster.CanKill, cluster.CanRestart}, Run: runLeaderFailure},
		{Name: "faults/partition_minority", MinNodes: 3, Needs: []cluster.Ability{cluster.CanPartition}, Run: runPartition},
		{Name: "faults/node_pause", MinNodes: 3, Needs: []cluster.Ability{cluster.CanPause}, Run: runPause},
		{Name: "faults/slow_link", MinNodes: 3, Needs: shape, Run: shapeLeader("slow_link",
			cluster.LinkFault{Delay: f.LinkDelay, Jitter: f.LinkJitter})},
		{Name: "faults/lossy_link", MinNodes: 3, Needs: shape, Run: shapeLeader("lossy_link",
			cluster.LinkFault{LossPercent: f.LinkLossPercent})},
		{Name: "faults/bandwidth_cap", MinNodes: 3, Needs: shape, Run: shapeLeader("bandwidth_cap",
			cluster.LinkFault{BandwidthKBPerSec: f.LinkBandwidthKBPerSec})},
		{Name: "faults/slow_disk", MinNodes: 3, Needs: []cluster.Ability{cluster.CanSlowDisk}, Run: runSlowDisk},
		{Name: "faults/inference_node_failure", MinNodes: 3, Needs: []cluster.Ability{cluster.CanKill, cluster.CanRestart}, Run: runInferenceNodeFailure},
	}
}

// electionWait bounds the wait for a new leader and for the first
// successful write after a leader is killed, both timed from the kill.
const electionWait = 10 * time.Second

// leaderAndOther returns the leader (its status, the system's ID for it
// included) and a node that is not the leader.
func leaderAndOther(ctx context.Context, c cluster.Cluster) (leader cluster.MemberStatus, other cluster.Node, err error) {
	n, err := leaderOf(ctx, c)
	if err != nil {
		return leader, other, err
	}
	if leader, err = status(ctx, c, n); err != nil {
		return leader, other, err
	}
	for _, m := range c.Nodes() {
		if m.ID != n.ID {
			return leader, m, nil
		}
	}
	return leader, other, fmt.Errorf("every node is the leader %s", n.ID)
}

// settled waits until every node reports the same leader, so the next
// kill hits a formed cluster.
func settled(ctx context.Context, c cluster.Cluster, deadline time.Time) bool {
	_, ok := pollUntil(ctx, deadline, func() bool {
		_, err := leaderOf(ctx, c)
		return err == nil
	})
	return ok
}

// runLeaderFailure kills the leader faults.leader_kills times, each time
// timing the election and the recovery (the first write of the load that
// started after the kill and succeeded) and restarting the killed node.
func runLeaderFailure(ctx context.Context, env *Env, c cluster.Cluster) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	killer, restarter := c.(cluster.Killer), c.(cluster.Restarter)
	kills := env.Config.Faults.LeaderKills
	var elections, recoveries []float64
	var lastSurvivor string
	err = f.run(ctx, env, func(ctx context.Context) error {
		for i := 1; i <= kills; i++ {
			if i > 1 && !settled(ctx, c, time.Now().Add(electionWait)) {
				return fmt.Errorf("kill %d of %d: the cluster did not agree on a leader within %v of the last restart", i, kills, electionWait)
			}
			lst, survivor, err := leaderAndOther(ctx, c)
			if err != nil {
				return fmt.Errorf("kill %d of %d: %w", i, kills, err)
			}
			leader := lst.Node.ID
			lastSurvivor = survivor.API
			// Election and recovery are both timed from this instant, the kill sent.
			env.Event("leader_kill_start", leader, fmt.Sprintf("SIGKILL %d of %d", i, kills))
			killed := time.Now()
			f.markFault(killed)
			if err := killer.Kill(ctx, leader); err != nil {
				return err
			}
			deadline := killed.Add(electionWait)
			if at, ok := pollUntil(ctx, deadline, func() bool {
				st, err := status(ctx, c, survivor)
				return err == nil && st.Leader != "" && st.Leader != lst.ID
			}); ok {
				elections = append(elections, float64(at.Sub(killed).Milliseconds()))
			}
			if _, ok := pollUntil(ctx, deadline, func() bool { _, ok := f.recovered(); return ok }); ok {
				at, _ := f.recovered()
				recoveries = append(recoveries, float64(at.Sub(killed).Milliseconds()))
			}
			if err := restarter.Restart(ctx, leader); err != nil {
				return fmt.Errorf("restarting %s: %w", leader, err)
			}
			env.Event("leader_kill_stop", leader, "restarted and rejoined")
		}
		return nil
	})
	if err != nil {
		return err
	}
	distribution(env, "leader_election_ms", elections, kills, fmt.Sprintf("no node reported a new leader within %v of the kill", electionWait))
	distribution(env, "recovery_ms", recoveries, kills, fmt.Sprintf("no write of the load that started after the kill succeeded within %v of it", electionWait))
	worst := fmt.Sprintf("%d of %d kills recovered", len(recoveries), kills)
	if len(recoveries) > 0 {
		worst += fmt.Sprintf(", the slowest in %.0f ms", slices.Max(recoveries))
	}
	recoveryCheck(env, len(recoveries) == kills && (len(recoveries) == 0 || slices.Max(recoveries) <= float64(env.Config.Targets.RecoveryTime.Milliseconds())), worst)
	return f.finish(ctx, env, lastSurvivor)
}

// distribution records the median and the extremes of ms over n tries
// (name, name_min, name_max), or says why they are absent.
func distribution(env *Env, name string, ms []float64, n int, missing string) {
	if len(ms) == 0 {
		env.Absent(name, "ms", missing)
		return
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	env.Scalar(name, s[len(s)/2], "ms") // the median (upper, for an even count)
	env.Scalar(name+"_min", s[0], "ms")
	env.Scalar(name+"_max", s[len(s)-1], "ms")
	if len(ms) < n {
		env.Warn("%s: %d of %d tries measured; the others: %s", name, len(ms), n, missing)
	}
}

// recoveryCheck records the recovery target check (targets.recovery_time;
// 0 turns it off).
func recoveryCheck(env *Env, met bool, detail string) {
	target := env.Config.Targets.RecoveryTime
	if target <= 0 {
		return
	}
	// fail: a cluster that takes no writes for longer than its recovery
	// target after a failure misses the availability it is run for.
	env.Check("recovery_within_target", metrics.SeverityFail, met, fmt.Sprintf("%s (targets.recovery_time %v)", detail, target))
}

func runPartition(ctx context.Context, env *Env, c cluster.Cluster) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	kv := f.kv.kv
	part := c.(cluster.Partitioner)
	var majorityAPI string
	err = f.run(ctx, env, func(ctx context.Context) error {
		leader, err := leaderOf(ctx, c)
		if err != nil {
			return err
		}
		var minority []string
		var minorityNodes []cluster.Node
		nodes := c.Nodes()
		for _, n := range nodes {
			if n.ID != leader.ID && len(minority) < (len(nodes)-1)/2 {
				minority, minorityNodes = append(minority, n.ID), append(minorityNodes, n)
			} else if majorityAPI == "" {
				majorityAPI = n.API
			}
		}
		env.Event("partition_start", fmt.Sprint(minority), "minority cut off")
		f.markFault(time.Now())
		if err := part.Partition(ctx, minority); err != nil {
			return err
		}
		if !sleepCtx(ctx, env.Duration/4) {
			_ = part.Heal(context.WithoutCancel(ctx))
			return ctx.Err()
		}
		wctx, cancel := context.WithTimeout(ctx, minorityWriteWait)
		_, minorityWrite := kv.Put(wctx, minorityNodes[0].API, f.kv.keys.prefix+"minority", []byte("m"))
		cancel()
		// fail: a minority that commits is split brain, Raft's safety broken.
		env.Check("minority_cannot_commit", metrics.SeverityFail, minorityWrite != nil, fmt.Sprintf("a write through %s during the partition: %v", minority[0], errText(minorityWrite)))
		// fail: a connected majority that cannot commit breaks Raft's liveness promise.
		markerVersion, markerErr := kv.Put(ctx, majorityAPI, f.kv.keys.prefix+"marker", []byte("during"))
		if markerErr != nil {
			env.Check("majority_commits", metrics.SeverityFail, false, "a write through the majority during the partition: "+markerErr.Error())
		} else {
			env.Check("majority_commits", metrics.SeverityFail, true, "a write through the majority succeeded during the partition")
		}
		if err := part.Heal(ctx); err != nil {
			return err
		}
		healed := time.Now()
		env.Event("partition_healed", fmt.Sprint(minority), "links restored")
		if markerErr != nil {
			env.Absent("convergence_ms", "ms", "the majority committed nothing during the partition for the minority to catch up on")
			env.Event("partition_stop", fmt.Sprint(minority), "healed")
			return nil
		}
		// The fault's window closes once the minority has caught up.
		const catchUp = 15 * time.Second
		at, ok := pollUntil(ctx, healed.Add(catchUp), func() bool {
			for _, n := range minorityNodes {
				if !caughtUp(ctx, env, c, kv, n, f.kv.keys.prefix+"marker", markerVersion) {
					return false
				}
			}
			return true
		})
		if ok {
			ms := at.Sub(healed).Milliseconds()
			env.Scalar("convergence_ms", float64(ms), "ms")
			env.Event("partition_stop", fmt.Sprint(minority), "healed, and the minority caught up")
			recoveryCheck(env, at.Sub(healed) <= env.Config.Targets.RecoveryTime, fmt.Sprintf("the minority caught up %d ms after healing", ms))
		} else {
			env.Absent("convergence_ms", "ms", fmt.Sprintf("the minority had not caught up %v after healing", catchUp))
			env.Event("partition_stop", fmt.Sprint(minority), fmt.Sprintf("healed; the minority had not caught up after %v", catchUp))
			recoveryCheck(env, false, fmt.Sprintf("the minority had not caught up %v after healing", catchUp))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.finish(ctx, env, majorityAPI)
}

func runPause(ctx context.Context, env *Env, c cluster.Cluster) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	pauser := c.(cluster.Pauser)
	var reader string
	err = f.run(ctx, env, func(ctx context.Context) error {
		leader, err := leaderOf(ctx, c)
		if err != nil {
			return err
		}
		var victim string
		for _, n := range c.Nodes() {
			if n.ID != leader.ID && victim == "" {
				victim = n.ID
			} else if reader == "" {
				reader = n.API
			}
		}
		env.Event("pause_start", victim, "SIGSTOP")
		f.markFault(time.Now())
		if err := pauser.Pause(ctx, victim); err != nil {
			return err
		}
		if !sleepCtx(ctx, env.Duration/4) {
			_ = pauser.Resume(context.WithoutCancel(ctx), victim)
			return ctx.Err()
		}
		if err := pauser.Resume(ctx, victim); err != nil {
			return err
		}
		env.Event("pause_stop", victim, "SIGCONT")
		return nil
	})
	if err != nil {
		return err
	}
	return f.finish(ctx, env, reader)
}

// shapeLeader degrades every link of the leader for a quarter of
// execution.duration: kind names the fault's events.
func shapeLeader(kind string, link cluster.LinkFault) func(ctx context.Context, env *Env, c cluster.Cluster) error {
	return func(ctx context.Context, env *Env, c cluster.Cluster) error {
		return degradeLeader(ctx, env, c, kind, describeLink(link), func(ctx context.Context, leader string) error {
			return c.(cluster.Shaper).Shape(ctx, []string{leader}, link)
		})
	}
}

func runSlowDisk(ctx context.Context, env *Env, c cluster.Cluster) error {
	delay := env.Config.Faults.DiskDelay
	return degradeLeader(ctx, env, c, "slow_disk", fmt.Sprintf("every Raft log write waits %v more", delay), func(ctx context.Context, leader string) error {
		return c.(cluster.DiskSlower).SlowDisk(ctx, leader, delay)
	})
}

// healer undoes whatever a fault did.
type healer interface {
	Heal(ctx context.Context) error
}

// degradeLeader applies degrade to the leader for a quarter of
// execution.duration, then heals, under the fault load.
func degradeLeader(ctx context.Context, env *Env, c cluster.Cluster, kind, how string, degrade func(ctx context.Context, leader string) error) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	s := c.(healer)
	var other string
	err = f.run(ctx, env, func(ctx context.Context) error {
		lst, o, err := leaderAndOther(ctx, c)
		if err != nil {
			return err
		}
		leader := lst.Node.ID
		other = o.API
		env.Event(kind+"_start", leader, how)
		f.markFault(time.Now())
		if err := degrade(ctx, leader); err != nil {
			return err
		}
		if !sleepCtx(ctx, env.Duration/4) {
			_ = s.Heal(context.WithoutCancel(ctx))
			return ctx.Err()
		}
		if err := s.Heal(ctx); err != nil {
			return err
		}
		env.Event(kind+"_stop", leader, "healed")
		return nil
	})
	if err != nil {
		return err
	}
	return f.finish(ctx, env, other)
}

// describeLink says what a link fault does, for its event.
func describeLink(l cluster.LinkFault) string {
	var parts []string
	if l.Delay > 0 {
		parts = append(parts, fmt.Sprintf("delay %v ± %v", l.Delay, l.Jitter))
	}
	if l.LossPercent > 0 {
		parts = append(parts, fmt.Sprintf("%.3g%% of writes lost", l.LossPercent))
	}
	if l.BandwidthKBPerSec > 0 {
		parts = append(parts, fmt.Sprintf("at most %.4g KB/s", l.BandwidthKBPerSec))
	}
	return "the leader's links: " + strings.Join(parts, ", ")
}

// runInferenceNodeFailure streams inference at inference.rate through
// every node while a node that is not the leader is killed for a quarter
// of execution.duration and restarted: what LLM clients see of a lost
// node, as latency, errors and goodput (the share of the requests sent in
// each window that were answered within inference.slo_ttft and slo_tpot)
// before, during and after.
func runInferenceNodeFailure(ctx context.Context, env *Env, c cluster.Cluster) error {
	if env.Target.Inference == nil {
		return Skip("the %s profile has no inference section", env.Target.Name)
	}
	_, done, err := withModel(ctx, env, c)
	if err != nil {
		return err
	}
	defer done()
	in := env.Config.Inference
	workers := env.Config.API.MaxInFlight
	client := env.Client(workers)
	defer client.CloseIdleConnections()
	wl, err := env.workload()
	if err != nil {
		return err
	}
	st := newInferStats(in.SLOTTFT, in.SLOTPOT, workers)
	w := newFaultWindows(requestOp)
	st.faults = w
	op := generateOp(requestOp, client, bases(c), inferTargetOf(env, false), st, wl)
	killer, restarter := c.(cluster.Killer), c.(cluster.Restarter)
	hist := startHistory(ctx, env, c)
	defer hist.stop()
	var survivor string
	res, err := underFault(ctx, env, w, in.Rate, workers, op, func(ctx context.Context) error {
		lst, _, err := leaderAndOther(ctx, c)
		if err != nil {
			return err
		}
		leader := lst.Node.ID
		var victim string
		for _, n := range c.Nodes() {
			switch {
			case n.ID != leader && victim == "":
				victim = n.ID
			case survivor == "":
				survivor = n.API
			}
		}
		env.Event("node_kill_start", victim, "SIGKILL (not the leader)")
		w.begin(time.Now())
		if err := killer.Kill(ctx, victim); err != nil {
			return err
		}
		if !sleepCtx(ctx, env.Duration/4) {
			return ctx.Err()
		}
		if err := restarter.Restart(ctx, victim); err != nil {
			return fmt.Errorf("restarting %s: %w", victim, err)
		}
		env.Event("node_kill_stop", victim, "restarted and rejoined")
		return nil
	})
	if err != nil {
		return err
	}
	st.finish(env, res)
	goodputByWindow(env, st, w)
	hist.check(ctx, env, survivor)
	return nil
}

// goodputByWindow records, per fault window, the share of the requests
// sent in it that were answered within both SLOs (goodput_percent@window).
func goodputByWindow(env *Env, st *inferStats, w *faultWindows) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, name := range windowNames {
		snap := w.rec.Op(w.op + "@" + name).Snapshot(0)
		sent := snap.Count + snap.Errors
		if sent == 0 {
			env.Absent("goodput_percent@"+name, "%", "no request was sent in this window")
			continue
		}
		env.Scalar("goodput_percent@"+name, 100*float64(st.goodBy[name])/float64(sent), "%")
	}
}

// minorityWriteWait bounds a write through a partitioned minority: one
// that would commit does so at once; one that waits is refused.
const minorityWriteWait = 5 * time.Second

// caughtUp reports whether node n holds key at version (or later): by a
// stale read of its own state where the profile has one, else by its
// applied index.
func caughtUp(ctx context.Context, env *Env, c cluster.Cluster, kv *kvClient, n cluster.Node, key string, version uint64) bool {
	if env.Target.KV.StaleGet != nil {
		_, v, found, err := kv.Get(ctx, n.API, key, true)
		return err == nil && found && v >= version
	}
	st, err := status(ctx, c, n)
	return err == nil && st.HasApplied && st.Applied >= version
}
