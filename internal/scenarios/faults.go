package scenarios

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
)

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
		if err := f.client.Do(ctx, http.MethodPut, base+"/api/v1/kv/"+key, []byte("f"), nil); err != nil {
			return err
		}
		f.acked.add(key)
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
		select {
		case <-time.After(env.Warmup + env.Duration/4):
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
	env.Check("no_acknowledged_write_lost", len(lost) == 0, fmt.Sprintf("%d of %d acknowledged writes missing after the fault", len(lost), len(keys)))
	if len(lost) > 0 {
		return fmt.Errorf("%d acknowledged writes were lost, e.g. %s", len(lost), lost[0])
	}
	return nil
}

// waitFor polls cond every 10 ms until it holds or within passes.
func waitFor(ctx context.Context, within time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start), true
		}
		select {
		case <-ctx.Done():
			return time.Since(start), false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return time.Since(start), false
}

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
		env.Event("leader_kill_start", leader, "SIGKILL")
		killed := time.Now()
		if err := killer.Kill(ctx, leader); err != nil {
			return err
		}
		elected, ok := waitFor(ctx, 10*time.Second, func() bool {
			st, err := api.Status(ctx, survivor)
			return err == nil && st.LeaderID != "" && st.LeaderID != leader
		})
		if !ok {
			env.Absent("leader_election_ms", "ms", "no new leader within 10s")
		} else {
			env.Scalar("leader_election_ms", float64(elected.Milliseconds()), "ms")
		}
		if _, ok := waitFor(ctx, 10*time.Second, func() bool {
			return api.PutKV(ctx, survivor, f.kv.keys.prefix+"recovery", []byte("r")) == nil
		}); ok {
			env.Scalar("recovery_ms", float64(time.Since(killed).Milliseconds()), "ms")
		} else {
			env.Absent("recovery_ms", "ms", "no write succeeded within 10s of the kill")
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
		time.Sleep(env.Duration / 4)
		minorityWrite := api.PutKV(ctx, minorityAPIs[0], f.kv.keys.prefix+"minority", []byte("m"))
		env.Check("minority_cannot_commit", minorityWrite != nil, fmt.Sprintf("a write through %s during the partition: %v", minority[0], minorityWrite))
		if err := api.PutKV(ctx, majorityAPI, f.kv.keys.prefix+"marker", []byte("during")); err != nil {
			env.Check("majority_commits", false, err.Error())
		} else {
			env.Check("majority_commits", true, "a write through the majority succeeded during the partition")
		}
		if err := part.Heal(ctx); err != nil {
			return err
		}
		env.Event("partition_stop", fmt.Sprint(minority), "healed")
		converged, ok := waitFor(ctx, 15*time.Second, func() bool {
			for _, b := range minorityAPIs {
				if f.kv.ctl.Get(ctx, b+"/api/v1/kv/"+f.kv.keys.prefix+"marker?consistency=stale") != nil {
					return false
				}
			}
			return true
		})
		if ok {
			env.Scalar("convergence_ms", float64(converged.Milliseconds()), "ms")
		} else {
			env.Absent("convergence_ms", "ms", "the minority had not caught up 15s after healing")
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
		time.Sleep(env.Duration / 4)
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
