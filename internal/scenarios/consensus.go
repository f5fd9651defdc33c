package scenarios

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/odbench/odbench/internal/cluster"
	"github.com/odbench/odbench/internal/config"
	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/metrics"
)

// consensusScenarios: KV writes through Raft over the node API, at one
// client, at execution.concurrent_workers clients and at high concurrency,
// then over value sizes; and linearizable against stale reads.
func consensusScenarios(cfg *config.Config) []Spec {
	var out []Spec
	seen := map[string]bool{}
	add := func(clients, size int) {
		name := fmt.Sprintf("consensus/apply/clients=%d/value=%s", clients, sizeName(size))
		if seen[name] {
			return
		}
		seen[name] = true
		out = append(out, Spec{
			Name:   name,
			Params: map[string]string{"clients": itoa(clients), "value_bytes": itoa(size)},
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
				return runKVWrites(ctx, env, c, clients, size)
			},
		})
	}
	for _, clients := range []int{1, cfg.Execution.ConcurrentWorkers, cfg.Consensus.HighConcurrency} {
		add(clients, 128)
	}
	for _, size := range cfg.Consensus.ValueSizes {
		add(cfg.Execution.ConcurrentWorkers, size)
	}
	for _, mode := range []string{"linearizable", "stale"} {
		clients := cfg.Execution.ConcurrentWorkers
		out = append(out, Spec{
			Name:   fmt.Sprintf("consensus/read/%s/clients=%d", mode, clients),
			Params: map[string]string{"clients": itoa(clients), "consistency": mode},
			Run: func(ctx context.Context, env *Env, c cluster.Cluster) error {
				return runKVReads(ctx, env, c, clients, mode == "stale")
			},
		})
	}
	return out
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// keySpace hands out the keys one scenario writes and deletes them after.
type keySpace struct {
	prefix string
	size   int
	next   atomic.Uint64
}

// newKeySpace returns size keys under a random prefix; in a sharded run
// the prefix names the shard, so shards never write the same keys.
func newKeySpace(env *Env, size int) *keySpace {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "odbench-"
	if sh := env.Config.Shard; sh.Sharded() {
		prefix += fmt.Sprintf("s%d-", sh.Index)
	}
	return &keySpace{prefix: prefix + hex.EncodeToString(b) + "-", size: size}
}

func (k *keySpace) nextKey() string  { return k.key(int(k.next.Add(1)-1) % k.size) }
func (k *keySpace) key(i int) string { return k.prefix + itoa(i) }

// used is how many distinct keys were written.
func (k *keySpace) used() int { return min(int(k.next.Load()), k.size) }

// cleanup deletes every key the scenario wrote, with 16 requests in
// flight, even when the scenario's context has ended.
func (k *keySpace) cleanup(ctx context.Context, env *Env, kv *kvClient, base string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	n := k.used()
	var failed atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if kv.Delete(ctx, base, k.key(i)) != nil {
					failed.Add(1)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if f := failed.Load(); f > 0 {
		env.Warn("cleanup: %d of %d keys (prefix %s) could not be deleted", f, n, k.prefix)
	}
}

// kvTarget finds the leader and checks that the target's KV store takes
// a write there.
func kvTarget(ctx context.Context, env *Env, kv *kvClient, c cluster.Cluster, probeKey string) (string, error) {
	leader, err := leaderOf(ctx, c)
	if errors.Is(err, ErrUnsupported) {
		return "", Skip("no leader to write at: %v", err)
	}
	if err != nil {
		return "", err
	}
	if _, err := kv.Put(ctx, leader.API, probeKey, []byte("probe")); err != nil {
		if unsupported("kv.put", err) != err {
			return "", Skip("the target does not take the %s profile's kv.put (%v)", env.Target.Name, err)
		}
		return "", fmt.Errorf("probe write: %w", err)
	}
	return leader.API, kv.Delete(ctx, leader.API, probeKey)
}

// kvSession is what a scenario needs to write keys through the target's
// consensus: a control client, the leader's API URL and a key space that
// Close deletes.
type kvSession struct {
	kv     *kvClient
	ctl    *load.FastClient
	keys   *keySpace
	leader string
	env    *Env
	ctx    context.Context
}

// openKV probes the target's KV store (skipping the scenario where it has
// none) and prepares a key space of size keys.
func openKV(ctx context.Context, env *Env, c cluster.Cluster, size int) (*kvSession, error) {
	ctl := env.FastClient(16)
	kv, err := env.KV(ctl)
	if err != nil {
		ctl.Close()
		return nil, err
	}
	s := &kvSession{kv: kv, ctl: ctl, keys: newKeySpace(env, size), env: env, ctx: ctx}
	leader, err := kvTarget(ctx, env, kv, c, s.keys.prefix+"probe")
	if err != nil {
		ctl.Close()
		return nil, err
	}
	s.leader = leader
	return s, nil
}

// fill writes every key of the space once, so reads find them.
func (s *kvSession) fill() error {
	value := bytes.Repeat([]byte("r"), 128)
	for i := 0; i < s.keys.size; i++ {
		if _, err := s.kv.Put(s.ctx, s.leader, s.keys.nextKey(), value); err != nil {
			return fmt.Errorf("writing the keys to read: %w", err)
		}
	}
	return nil
}

// putOp is an operation that writes value at the next key of the space
// through the leader, over client.
func (s *kvSession) putOp(name string, client *load.FastClient, value []byte) load.Operation {
	kv, _ := s.env.KV(client) // the session exists: the profile has kv
	return load.Operation{Name: name, Do: func(ctx context.Context) error {
		_, err := kv.Put(ctx, s.leader, s.keys.nextKey(), value)
		return err
	}}
}

// Close deletes every key written and closes the control client.
func (s *kvSession) Close() {
	s.keys.cleanup(s.ctx, s.env, s.kv, s.leader)
	s.ctl.Close()
}

// raftProgress notes terms and the leader's commit index, to count the
// elections and the commit rate over a scenario; has says what the
// profile lets odbench read.
type raftProgress struct {
	at                time.Time
	term, commit      uint64
	hasTerm, hasIndex bool
}

func readProgress(ctx context.Context, c cluster.Cluster, leader string) (raftProgress, error) {
	term, hasTerm, err := maxTerm(ctx, c)
	if err != nil {
		return raftProgress{}, err
	}
	p := raftProgress{at: time.Now(), term: term, hasTerm: hasTerm}
	for _, n := range c.Nodes() {
		if n.API != leader {
			continue
		}
		st, err := status(ctx, c, n)
		if err != nil {
			return raftProgress{}, err
		}
		p.commit, p.hasIndex = st.Commit, st.HasCommit
	}
	return p, nil
}

// recordProgress adds the elections and commit-rate scalars, and a check
// that a healthy cluster held no election.
func recordProgress(ctx context.Context, env *Env, c cluster.Cluster, leader string, before raftProgress) {
	after, err := readProgress(ctx, c, leader)
	if err != nil {
		env.Absent("leader_elections", "count", "cluster status unreadable after the run: "+err.Error())
		env.Absent("commit_index_rate", "entries/s", "cluster status unreadable after the run: "+err.Error())
		return
	}
	if !after.hasTerm {
		env.Absent("leader_elections", "count", "the "+env.Target.Name+" profile's status reads no Raft term")
	} else {
		elections := float64(after.term - before.term)
		env.Scalar("leader_elections", elections, "count")
		// warn: an election on an undisturbed cluster is late heartbeats, most
		// often an overloaded host; performance, not safety.
		env.Check("no_leader_election", metrics.SeverityWarn, elections == 0, fmt.Sprintf("Raft term went from %d to %d", before.term, after.term))
		if elections > 0 {
			env.Warn("%.0f leader election(s) during the scenario: on a healthy cluster this means heartbeats were late (an overloaded host?)", elections)
			env.Absent("commit_index_rate", "entries/s", "the leader changed during the scenario")
			return
		}
	}
	if !after.hasIndex {
		env.Absent("commit_index_rate", "entries/s", "the "+env.Target.Name+" profile's status reads no commit index")
		return
	}
	env.Scalar("commit_index_rate", float64(after.commit-before.commit)/after.at.Sub(before.at).Seconds(), "entries/s")
}

func runKVWrites(ctx context.Context, env *Env, c cluster.Cluster, clients, size int) error {
	kv, err := openKV(ctx, env, c, env.Config.Consensus.KeySpace)
	if err != nil {
		return err
	}
	defer kv.Close()
	leader := kv.leader
	before, err := readProgress(ctx, c, leader)
	if err != nil {
		return err
	}
	client := env.FastClient(clients)
	defer client.Close()
	res, err := env.Closed(ctx, clients, kv.putOp("put", client, bytes.Repeat([]byte("v"), size)))
	if err != nil {
		return err
	}
	recordProgress(ctx, env, c, leader, before)
	op := res.Operations()[0]
	env.Scalar("throughput_mb_per_s", op.ThroughputOpsPerSec*float64(size)/1e6, "MB/s")
	return nil
}

func runKVReads(ctx context.Context, env *Env, c cluster.Cluster, clients int, stale bool) error {
	kv, err := openKV(ctx, env, c, min(env.Config.Consensus.KeySpace, 100))
	if err != nil {
		return err
	}
	defer kv.Close()
	if stale && env.Target.KV.StaleGet == nil {
		return Skip("the %s profile has no kv.stale_get", env.Target.Name)
	}
	keys, leader := kv.keys, kv.leader
	if err := kv.fill(); err != nil {
		return err
	}
	before, err := readProgress(ctx, c, leader)
	if err != nil {
		return err
	}
	name := "get_linearizable"
	if stale {
		name = "get_stale"
	}
	nodes := bases(c)
	client := env.FastClient(clients)
	defer client.Close()
	reads, _ := env.KV(client)
	var n atomic.Uint64
	_, err = env.Closed(ctx, clients, load.Operation{Name: name, Do: func(ctx context.Context) error {
		i := n.Add(1)
		_, _, found, err := reads.Get(ctx, nodes[int(i)%len(nodes)], keys.key(int(i)%keys.size), stale)
		if err == nil && !found {
			return errKeyMissing
		}
		return err
	}})
	if err != nil {
		return err
	}
	recordProgress(ctx, env, c, leader, before)
	return nil
}

// errKeyMissing: a read of a key the scenario wrote found nothing.
var errKeyMissing = kindError{kind: "not_found", msg: "a key the scenario wrote was not found"}

// kindError is an error of its own kind in the results.
type kindError struct{ kind, msg string }

func (e kindError) Error() string { return e.msg }
func (e kindError) Kind() string  { return e.kind }
