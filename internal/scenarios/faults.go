package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
)

// errText is err's message, or "succeeded" when there was none.
func errText(err error) string {
	if err == nil {
		return "succeeded"
	}
	return err.Error()
}

// faultScenarios hurt a cluster under a steady write load and measure how
// it copes: a killed leader (election time, time to the first successful
// write, no acknowledged write lost), a partitioned minority (the
// majority keeps committing, the minority cannot, and it converges after
// healing), and a paused follower. Each fault is an event pair
// (<fault>_start, <fault>_stop) that the report shades on the timeline.
// They need the cluster's fault abilities and are skipped without them.
func faultScenarios(cfg *config.Config) []Spec {
	return []Spec{
		{Name: "faults/leader_failure", MinNodes: 3, Needs: []cluster.Ability{cluster.CanKill, cluster.CanRestart}, Run: runLeaderFailure},
		{Name: "faults/partition_minority", MinNodes: 3, Needs: []cluster.Ability{cluster.CanPartition}, Run: runPartition},
		{Name: "faults/node_pause", MinNodes: 3, Needs: []cluster.Ability{cluster.CanPause}, Run: runPause},
	}
}

// ackLog remembers every key whose write was acknowledged, to check none
// is lost after a fault.
type ackLog struct {
	mu   sync.Mutex
	keys []string
}

func (a *ackLog) add(k string) {
	a.mu.Lock()
	a.keys = append(a.keys, k)
	a.mu.Unlock()
}

func (a *ackLog) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.keys...)
}

// faultLoad is the steady write load a fault scenario runs under: writes
// through every node in turn (followers forward), acknowledged keys logged.
type faultLoad struct {
	kv     *kvSession
	client *load.FastClient
	acked  ackLog
	op     load.Operation
	// faultAt is when the fault was injected and firstOK when the first
	// write that started after it succeeded (unix ns; 0: not yet).
	faultAt, firstOK atomic.Int64
}

// markFault notes the instant a fault is injected; recovery is timed from it.
func (f *faultLoad) markFault(t time.Time) {
	f.firstOK.Store(0)
	f.faultAt.Store(t.UnixNano())
}

// recovered returns when the first write that started after the fault
// succeeded.
func (f *faultLoad) recovered() (time.Time, bool) {
	ns := f.firstOK.Load()
	return time.Unix(0, ns), ns != 0
}

func newFaultLoad(ctx context.Context, env *Env, c cluster.Cluster) (*faultLoad, error) {
	kv, err := openKV(ctx, env, c, 1<<30) // unique keys: every acknowledged one can be checked
	if err != nil {
		return nil, err
	}
	f := &faultLoad{kv: kv, client: load.NewFastClient(8, 2*time.Second)}
	nodes := bases(c)
	var next atomic.Uint64
	f.op = load.Operation{Name: "put", Do: func(ctx context.Context) error {
		key := kv.keys.nextKey()
		base := nodes[int(next.Add(1))%len(nodes)]
		began := time.Now().UnixNano()
		if err := f.client.Do(ctx, http.MethodPut, base+"/api/v1/kv/"+key, []byte("f"), nil); err != nil {
			return err
		}
		f.acked.add(key)
		if at := f.faultAt.Load(); at != 0 && began > at {
			f.firstOK.CompareAndSwap(0, time.Now().UnixNano())
		}
		return nil
	}}
	return f, nil
}

func (f *faultLoad) Close() { f.client.Close(); f.kv.Close() }

// faultWriteRate is the steady write load of fault scenarios, in writes
// per second: light enough that every acknowledged key can be read back
// and deleted afterwards even on long runs.
const faultWriteRate = 100

// run drives faultWriteRate writes per second (open loop, so a stalled
// cluster shows as latency and dropped starts) for the configured
// duration while fault runs in the background once the warm-up is over.
func (f *faultLoad) run(ctx context.Context, env *Env, fault func(ctx context.Context) error) error {
	faultErr := errors.New("the fault never began: the load ended first (lengthen execution.duration)")
	done := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(env.Warmup + env.Duration/4)
		defer t.Stop()
		select {
		case <-t.C:
			// The fault runs to its end (a restart must not be cut short),
			// bounded by the scenario's own timeout.
			faultErr = fault(ctx)
		case <-loadDone:
		case <-ctx.Done():
		}
	}()
	_, err := env.Open(ctx, faultWriteRate, 64, f.op)
	close(loadDone)
	<-done
	return errors.Join(err, faultErr)
}

// verify reads back every acknowledged key through the node at base
// (linearizable reads, 16 at a time) and records the consistency check.
func (f *faultLoad) verify(ctx context.Context, env *Env, base string) error {
	keys := f.acked.all()
	var mu sync.Mutex
	var lost []string
	var readErr error
	work := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				err := f.kv.ctl.Get(ctx, base+"/api/v1/kv/"+k)
				var se *load.StatusError
				mu.Lock()
				switch {
				case err == nil:
				case errors.As(err, &se) && se.Code == http.StatusNotFound:
					lost = append(lost, k)
				case readErr == nil:
					readErr = fmt.Errorf("reading back %s: %w", k, err)
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	if readErr != nil {
		return readErr
	}
	env.Scalar("acknowledged_writes", float64(len(keys)), "count")
	env.Scalar("lost_writes", float64(len(lost)), "count")
	// fail: an acknowledged write that is gone is data loss.
	detail := fmt.Sprintf("%d of %d acknowledged writes missing after the fault", len(lost), len(keys))
	if len(lost) > 0 {
		sort.Strings(lost)
		detail += ", e.g. " + lost[0]
	}
	env.Check("no_acknowledged_write_lost", metrics.SeverityFail, len(lost) == 0, detail)
	return nil
}

// pollUntil polls cond every 10 ms until it holds (returning when), the
// deadline passes or ctx ends.
func pollUntil(ctx context.Context, deadline time.Time, cond func() bool) (time.Time, bool) {
	for {
		if cond() {
			return time.Now(), true
		}
		if !time.Now().Before(deadline) || !sleepCtx(ctx, 10*time.Millisecond) {
			return time.Now(), false
		}
	}
}

// sleepCtx waits for d or until ctx ends, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// electionWait bounds the wait for a new leader and for the first
// successful write after a leader is killed, both timed from the kill.
const electionWait = 10 * time.Second

func runLeaderFailure(ctx context.Context, env *Env, c cluster.Cluster) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	api := f.kv.api
	killer, restarter := c.(cluster.Killer), c.(cluster.Restarter)
	var survivor string
	err = f.run(ctx, env, func(ctx context.Context) error {
		st, err := api.Status(ctx, bases(c)[0])
		if err != nil {
			return err
		}
		leader := st.LeaderID
		for _, n := range c.Nodes() {
			if n.ID != leader {
				survivor = n.API
				break
			}
		}
		// Election and recovery are both timed from this instant, the kill sent.
		env.Event("leader_kill_start", leader, "SIGKILL")
		killed := time.Now()
		f.markFault(killed)
		if err := killer.Kill(ctx, leader); err != nil {
			return err
		}
		deadline := killed.Add(electionWait)
		if at, ok := pollUntil(ctx, deadline, func() bool {
			st, err := api.Status(ctx, survivor)
			return err == nil && st.LeaderID != "" && st.LeaderID != leader
		}); ok {
			env.Scalar("leader_election_ms", float64(at.Sub(killed).Milliseconds()), "ms")
		} else {
			env.Absent("leader_election_ms", "ms", fmt.Sprintf("no node reported a new leader within %v of the kill", electionWait))
		}
		// Recovery: the first write of the running load that started after
		// the kill and succeeded.
		if _, ok := pollUntil(ctx, deadline, func() bool { _, ok := f.recovered(); return ok }); ok {
			at, _ := f.recovered()
			env.Scalar("recovery_ms", float64(at.Sub(killed).Milliseconds()), "ms")
		} else {
			env.Absent("recovery_ms", "ms", fmt.Sprintf("no write of the load that started after the kill succeeded within %v of it", electionWait))
		}
		if err := restarter.Restart(ctx, leader); err != nil {
			return fmt.Errorf("restarting %s: %w", leader, err)
		}
		env.Event("leader_kill_stop", leader, "restarted and rejoined")
		return nil
	})
	if err != nil {
		return err
	}
	return f.verify(ctx, env, survivor)
}

func runPartition(ctx context.Context, env *Env, c cluster.Cluster) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	api := f.kv.api
	part := c.(cluster.Partitioner)
	var majorityAPI string
	err = f.run(ctx, env, func(ctx context.Context) error {
		st, err := api.Status(ctx, bases(c)[0])
		if err != nil {
			return err
		}
		var minority []string
		var minorityAPIs []string
		nodes := c.Nodes()
		for _, n := range nodes {
			if n.ID != st.LeaderID && len(minority) < (len(nodes)-1)/2 {
				minority, minorityAPIs = append(minority, n.ID), append(minorityAPIs, n.API)
			} else if majorityAPI == "" {
				majorityAPI = n.API
			}
		}
		env.Event("partition_start", fmt.Sprint(minority), "minority cut off")
		if err := part.Partition(ctx, minority); err != nil {
			return err
		}
		if !sleepCtx(ctx, env.Duration/4) {
			_ = part.Heal(context.WithoutCancel(ctx))
			return ctx.Err()
		}
		minorityWrite := api.PutKV(ctx, minorityAPIs[0], f.kv.keys.prefix+"minority", []byte("m"))
		// fail: a minority that commits is split brain, Raft's safety broken.
		env.Check("minority_cannot_commit", metrics.SeverityFail, minorityWrite != nil, fmt.Sprintf("a write through %s during the partition: %v", minority[0], errText(minorityWrite)))
		// fail: a connected majority that cannot commit breaks Raft's liveness promise.
		markerErr := api.PutKV(ctx, majorityAPI, f.kv.keys.prefix+"marker", []byte("during"))
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
			for _, b := range minorityAPIs {
				if f.kv.ctl.Get(ctx, b+"/api/v1/kv/"+f.kv.keys.prefix+"marker?consistency=stale") != nil {
					return false
				}
			}
			return true
		})
		if ok {
			env.Scalar("convergence_ms", float64(at.Sub(healed).Milliseconds()), "ms")
			env.Event("partition_stop", fmt.Sprint(minority), "healed, and the minority caught up")
		} else {
			env.Absent("convergence_ms", "ms", fmt.Sprintf("the minority had not caught up %v after healing", catchUp))
			env.Event("partition_stop", fmt.Sprint(minority), fmt.Sprintf("healed; the minority had not caught up after %v", catchUp))
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.verify(ctx, env, majorityAPI)
}

func runPause(ctx context.Context, env *Env, c cluster.Cluster) error {
	f, err := newFaultLoad(ctx, env, c)
	if err != nil {
		return err
	}
	defer f.Close()
	pauser := c.(cluster.Pauser)
	api := f.kv.api
	var reader string
	err = f.run(ctx, env, func(ctx context.Context) error {
		st, err := api.Status(ctx, bases(c)[0])
		if err != nil {
			return err
		}
		var victim string
		for _, n := range c.Nodes() {
			if n.ID != st.LeaderID && victim == "" {
				victim = n.ID
			} else if reader == "" {
				reader = n.API
			}
		}
		env.Event("pause_start", victim, "SIGSTOP")
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
	return f.verify(ctx, env, reader)
}
